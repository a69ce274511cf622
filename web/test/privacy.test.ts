// Unit tests of the SDK's masking processor (sdk/privacy.ts): the events
// rrweb would send are rewritten against a real DOM before they leave the
// page. The browser tests (e2e/) check the same promises end to end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_POLICY, PolicyView } from '../sdk/policy';
import { MASK, Privacy } from '../sdk/privacy';
import { useDOM } from './dom';
import rules from '../../internal/privacy/rules.json';

const page = `<!doctype html><html><body>
  <input id="name" value="Yamada Taro" placeholder="your name" title="name-title" aria-label="name-label" data-user="u-123">
  <input id="pw" type="password" value="s3cret">
  <input id="hidden" type="hidden" value="hidden-token">
  <input id="card" autocomplete="cc-number" value="4111111111111111">
  <input id="search" class="safe" value="opening hours">
  <input id="go" type="submit" value="Send">
  <textarea id="note">my note</textarea>
  <select id="branch"><option value="b1">Shinjuku</option><option value="b2" selected>Shibuya</option></select>
  <div id="editable" contenteditable>typed text</div>
  <p id="acct" class="account-number">1234567</p>
  <div id="blocked" data-tomoni-block><img alt="photo-of-id"><span>inside block</span></div>
  <a id="link" href="https://bank.example/next?email=a@b.jp#frag">next</a>
  <p id="public">Opening hours 9:00-15:00</p>
  <iframe id="frame" srcdoc="<input value='in-srcdoc'>"></iframe>
  <iframe id="dataframe" src="data:text/html,<p>in-data-url</p>"></iframe>
  <output id="out">computed-total</output>
  <datalist id="dl"><option value="earlier-entry"></option></datalist>
</body></html>`;

const policy: PolicyView = { ...DEFAULT_POLICY, mask_selectors: ['.account-number'], unmask_selectors: ['.safe', '#pw'], strip_fragment: true };

// Node ids as rrweb would assign them; here simply one per element id.
function setup(p: PolicyView = policy): { privacy: Privacy; ids: Map<number, Node>; idOf: (sel: string) => number } {
  useDOM(page);
  const ids = new Map<number, Node>();
  let next = 1;
  const idOf = (sel: string): number => {
    const el = document.querySelector(sel);
    assert.ok(el, sel);
    for (const [id, n] of ids) if (n === el) return id;
    ids.set(next, el);
    return next++;
  };
  return { privacy: new Privacy(p, (id) => ids.get(id) || null), ids, idOf };
}

function snapshotOf(idOf: (sel: string) => number, sel: string, attributes: Record<string, unknown>, text?: string) {
  const id = idOf(sel);
  const el = document.querySelector(sel) as Element;
  return { type: 2, id, tagName: el.tagName.toLowerCase(), attributes, childNodes: text === undefined ? [] : [{ type: 3, id: id + 1000, textContent: text }] };
}

test('field values are masked by default, button labels are not', () => {
  const { privacy, idOf } = setup();
  for (const sel of ['#name', '#note', '#branch', '#card', '#hidden']) {
    assert.equal(privacy.maskInput('something typed', document.querySelector(sel) as HTMLElement), MASK, sel);
  }
  const go = snapshotOf(idOf, '#go', { type: 'submit', value: 'Send' });
  privacy.scrub({ type: 2, data: { node: { type: 0, id: 0, childNodes: [go] } } });
  assert.equal(go.attributes.value, 'Send');
});

test('an allow-listed field shows its value, but never a password', () => {
  const { privacy } = setup();
  assert.equal(privacy.maskInput('opening hours', document.querySelector('#search') as HTMLElement), 'opening hours');
  assert.equal(privacy.maskInput('s3cret', document.querySelector('#pw') as HTMLElement), MASK, 'password on the allow-list');
});

test('a password field stays masked after a "show password" toggle', () => {
  const { privacy } = setup();
  const pw = document.querySelector('#pw') as HTMLInputElement;
  privacy.rememberSensitive(document);
  pw.type = 'text';
  assert.equal(privacy.maskInput('s3cret', pw), MASK);
});

test('a full snapshot loses user data in attributes of masked fields and blocked elements', () => {
  const { privacy, idOf } = setup();
  const name = snapshotOf(idOf, '#name', { id: 'name', value: 'Yamada Taro', placeholder: 'your name', title: 'name-title', 'aria-label': 'name-label', 'data-user': 'u-123' });
  const img = snapshotOf(idOf, '#blocked img', { alt: 'photo-of-id' });
  const blocked = { ...snapshotOf(idOf, '#blocked', { 'data-tomoni-block': '' }), childNodes: [img] };
  const acct = snapshotOf(idOf, '#acct', { class: 'account-number' }, '1234567');
  const pub = snapshotOf(idOf, '#public', {}, 'Opening hours 9:00-15:00');
  const link = snapshotOf(idOf, '#link', { href: 'https://bank.example/next?email=a@b.jp#frag' }, 'next');
  const ev = { type: 2, data: { node: { type: 0, id: 0, childNodes: [name, blocked, acct, pub, link] }, initialOffset: { top: 0, left: 0 } } };
  privacy.scrub(ev);
  const out = JSON.stringify(ev);
  for (const secret of ['Yamada Taro', 'your name', 'name-title', 'name-label', 'u-123', 'photo-of-id', '1234567', 'a@b.jp', 'frag']) {
    assert.ok(!out.includes(secret), `${secret} reached the event: ${out}`);
  }
  assert.ok(out.includes('Opening hours 9:00-15:00'), 'public text must stay');
  assert.ok(out.includes('https://bank.example/next'), 'the link itself stays, without query and fragment');
});

test('typed input on a masked field is masked; on an allow-listed one it is kept', () => {
  const { privacy, idOf } = setup();
  const typed = { type: 3, data: { source: 5, id: idOf('#name'), text: 'Yamada Taro', isChecked: false } };
  privacy.scrub(typed);
  assert.equal(typed.data.text, MASK);
  const search = { type: 3, data: { source: 5, id: idOf('#search'), text: 'opening hours', isChecked: false } };
  privacy.scrub(search);
  assert.equal(search.data.text, 'opening hours');
});

test('text added later inside a masked element is masked; elsewhere it is kept', () => {
  const { privacy, idOf } = setup();
  const ev = {
    type: 3,
    data: {
      source: 0, texts: [], attributes: [], removes: [],
      adds: [
        { parentId: idOf('#acct'), node: { type: 3, id: 900, textContent: '7654321' } },
        { parentId: idOf('#public'), node: { type: 3, id: 901, textContent: 'Closed on holidays' } },
      ],
    },
  };
  privacy.scrub(ev);
  const out = JSON.stringify(ev);
  assert.ok(!out.includes('7654321'), out);
  assert.ok(out.includes('Closed on holidays'), out);
});

test('a later attribute change on a masked field is scrubbed', () => {
  const { privacy, idOf } = setup();
  const ev = { type: 3, data: { source: 0, texts: [], removes: [], adds: [], attributes: [{ id: idOf('#name'), attributes: { value: 'Yamada Hanako', class: 'x' } }] } };
  privacy.scrub(ev);
  assert.equal(ev.data.attributes[0].attributes.value, MASK);
  assert.equal(ev.data.attributes[0].attributes.class, 'x');
});

test('the page URL loses its query (and fragment when the policy says so)', () => {
  const { privacy } = setup();
  const meta = { type: 4, data: { href: 'https://bank.example/page?account=123#top', width: 1, height: 1 } };
  privacy.scrub(meta);
  assert.equal(meta.data.href, 'https://bank.example/page');
});

test('maskText hides text of any length behind the same mask, and leaves blank text alone', () => {
  const { privacy } = setup();
  assert.equal(privacy.maskText('a'), MASK);
  assert.equal(privacy.maskText('a much longer secret'), MASK);
  assert.equal(privacy.maskText('  \n '), '  \n ');
});

test('documents in attributes become a blank document, in snapshots and later changes', () => {
  const { privacy, idOf } = setup();
  const frame = snapshotOf(idOf, '#frame', { id: 'frame', srcdoc: "<input value='in-srcdoc'>" });
  const data = snapshotOf(idOf, '#dataframe', { rr_src: 'data:text/html,<p>in-data-url</p>' });
  privacy.scrub({ type: 2, data: { node: { type: 0, id: 0, childNodes: [frame, data] } } });
  assert.equal(frame.attributes.srcdoc, rules.blank_document);
  assert.equal(data.attributes.rr_src, 'about:blank');
  const change = { id: idOf('#frame'), attributes: { srcdoc: '<input value="later">' } };
  privacy.scrub({ type: 3, data: { source: 0, adds: [], removes: [], texts: [], attributes: [change] } });
  assert.equal(change.attributes.srcdoc, rules.blank_document);
});

test('output text and datalist options are masked by default', () => {
  const { privacy, idOf } = setup();
  const out = snapshotOf(idOf, '#out', { id: 'out' }, 'computed-total');
  const opt = snapshotOf(idOf, '#dl option', { value: 'earlier-entry' });
  const dl = { ...snapshotOf(idOf, '#dl', { id: 'dl' }), childNodes: [opt] };
  const ev = { type: 2, data: { node: { type: 0, id: 0, childNodes: [out, dl] } } };
  privacy.scrub(ev);
  const s = JSON.stringify(ev);
  assert.ok(!s.includes('computed-total') && !s.includes('earlier-entry'), s);
});

test('a field the policy unmasks carries the marker the server checks', () => {
  const { privacy, idOf } = setup();
  const search = snapshotOf(idOf, '#search', { class: 'safe', value: 'opening hours' });
  const name = snapshotOf(idOf, '#name', { value: 'Yamada Taro' });
  privacy.scrub({ type: 2, data: { node: { type: 0, id: 0, childNodes: [search, name] } } });
  assert.equal(search.attributes.value, 'opening hours');
  assert.ok(rules.unmasked_marker in search.attributes);
  assert.ok(!(rules.unmasked_marker in name.attributes));
});
