// The customer-side UI: consent and code dialog, the sharing banner, and
// the staff's pointer and highlight. It lives in a shadow root so the
// site's CSS cannot break it, and carries data-tomoni-ui so it is never
// captured.
import { colourOf } from '../shared/palette';
import { Texts } from './i18n';

const CSS = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Hiragino Sans", "Noto Sans JP", "Yu Gothic", sans-serif; }
.backdrop { position: fixed; inset: 0; background: rgba(0,0,0,.45); display: flex; align-items: center; justify-content: center; z-index: 2147483646; padding: 12px; }
.dialog { background: #fff; color: #222; border-radius: 10px; max-width: 480px; width: 100%; max-height: calc(100vh - 24px); overflow: auto; box-shadow: 0 10px 40px rgba(0,0,0,.3); }
.dialog h2 { margin: 0; padding: 16px 20px; font-size: 18px; border-bottom: 1px solid #e3e3e3; }
.body { padding: 16px 20px; font-size: 14px; line-height: 1.6; }
.body h3 { font-size: 15px; margin: 0 0 8px; }
.body ul { margin: 0 0 12px; padding-left: 20px; }
.body li { margin-bottom: 4px; }
label.agree { display: flex; gap: 8px; align-items: center; font-weight: 600; margin: 8px 0 4px; }
label.agree input { width: 20px; height: 20px; }
.code { display: block; width: 100%; font-size: 28px; letter-spacing: .4em; text-align: center; padding: 10px; border: 2px solid #888; border-radius: 8px; margin: 8px 0; }
.code:focus { outline: none; border-color: #0a66c2; }
.staff-name { font-size: 18px; }
.check { display: block; font-size: 48px; font-weight: 700; letter-spacing: .2em; text-align: center; margin: 8px 0; font-variant-numeric: tabular-nums; }
.error { color: #b00020; font-weight: 600; min-height: 1.6em; }
.buttons { display: flex; gap: 12px; justify-content: flex-end; padding: 12px 20px 18px; flex-wrap: wrap; }
button { font-size: 16px; padding: 10px 18px; border-radius: 8px; border: 1px solid #0a66c2; cursor: pointer; min-height: 44px; }
button.primary { background: #0a66c2; color: #fff; }
button.secondary { background: #fff; color: #0a66c2; }
button:disabled { opacity: .5; cursor: not-allowed; }
.banner { position: fixed; left: 50%; bottom: 12px; transform: translateX(-50%); z-index: 2147483647; display: flex; align-items: center; gap: 12px;
  background: #c62828; color: #fff; padding: 8px 8px 8px 16px; border-radius: 999px; box-shadow: 0 4px 16px rgba(0,0,0,.35); font-size: 15px; font-weight: 700; max-width: calc(100vw - 16px); }
.banner.paused { background: #6d4c41; }
.banner.reconnecting { background: #555; }
.banner .dot { width: 10px; height: 10px; border-radius: 50%; background: #fff; animation: blink 1.2s infinite; flex: none; }
.banner .staff { font-weight: 400; font-size: 13px; opacity: .9; }
.banner button { background: #fff; color: #c62828; border: none; padding: 6px 16px; min-height: 36px; font-weight: 700; white-space: nowrap; flex: none; }
.banner .label { min-width: 0; }
@keyframes blink { 50% { opacity: .3; } }
@media (prefers-reduced-motion: reduce) { .banner .dot { animation: none; } .pointer { transition: none; } }
.toast { position: fixed; left: 50%; bottom: 72px; transform: translateX(-50%); background: #333; color: #fff; padding: 10px 16px; border-radius: 8px; z-index: 2147483647; font-size: 14px; }
.pointer { position: fixed; width: 36px; height: 36px; margin: -18px 0 0 -18px; border: 4px solid #e53935; border-radius: 50%;
  box-shadow: 0 0 0 2px #fff, 0 0 8px rgba(0,0,0,.4); pointer-events: none; z-index: 2147483647; transition: left .08s linear, top .08s linear; }
.strokes { position: fixed; inset: 0; width: 100vw; height: 100vh; pointer-events: none; z-index: 2147483647; overflow: visible; }
.strokes polyline { fill: none; stroke-linecap: round; stroke-linejoin: round; transition: opacity .6s linear; }
.strokes polyline.pen { stroke: #e53935; stroke-width: 4; }
.strokes polyline.laser { stroke: #ff1744; stroke-width: 6; filter: drop-shadow(0 0 4px rgba(255,23,68,.8)); }
.pointer-label { position: fixed; font: 600 12px/1.5 system-ui, sans-serif; color: #fff; padding: 0 7px; border-radius: 9px; white-space: nowrap;
  pointer-events: none; z-index: 2147483647; box-shadow: 0 0 0 1px #fff; transition: left .08s linear, top .08s linear; }
.banner .watching { font-weight: 400; font-size: 13px; opacity: .9; }
.highlight { position: fixed; border: 3px solid #fbc02d; background: rgba(251,192,45,.18); border-radius: 4px; pointer-events: none; z-index: 2147483646; }
@media (max-width: 480px) { .banner { bottom: 8px; font-size: 14px; gap: 8px; padding: 6px 6px 6px 12px; } .banner .staff { display: none; } .banner button { padding: 6px 12px; } }
`;


export interface Rect { left: number; top: number; width: number; height: number }

export class UI {
  private host: HTMLElement;
  private root: ShadowRoot;
  private dialog: HTMLElement | null = null;
  private banner: HTMLElement | null = null;
  // One pointer and one highlight per staff member, by their number on the session.
  private pointers = new Map<number, { dot: HTMLElement; label: HTMLElement }>();
  private highlights = new Map<number, HTMLElement>();
  private toastEl: HTMLElement | null = null;

  constructor(public t: Texts) {
    this.host = document.createElement('tomoni-ui');
    this.host.setAttribute('data-tomoni-ui', '');
    this.host.style.cssText = 'all:initial;position:fixed;top:0;left:0;width:0;height:0;z-index:2147483647;';
    this.root = this.host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = CSS;
    this.root.appendChild(style);
  }

  private mount(): void {
    if (!this.host.isConnected) (document.body || document.documentElement).appendChild(this.host);
  }

  private el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /**
   * Shows consent, then the code field. onSubmit resolves to the problem
   * (a stable code, kept in the error line's data-code, and its text) or
   * null on success.
   */
  openDialog(onSubmit: (code: string) => Promise<{ code: string; text: string } | null>): void {
    this.closeDialog();
    this.mount();
    const t = this.t;
    const backdrop = this.el('div', 'backdrop');
    const box = this.el('div', 'dialog');
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    box.setAttribute('aria-label', t.title);
    box.appendChild(this.el('h2', '', t.title));
    const body = this.el('div', 'body');
    const buttons = this.el('div', 'buttons');
    box.append(body, buttons);
    backdrop.appendChild(box);
    this.root.appendChild(backdrop);
    this.dialog = backdrop;
    box.addEventListener('keydown', (e) => { if (e.key === 'Escape') this.closeDialog(); });

    const close = this.el('button', 'secondary', t.close);
    close.type = 'button';
    close.dataset.tomoni = 'close';
    close.onclick = () => this.closeDialog();

    // Step 1: terms and consent.
    body.appendChild(this.el('h3', '', t.termsHeading));
    const ul = this.el('ul');
    for (const line of t.terms) ul.appendChild(this.el('li', '', line));
    body.appendChild(ul);
    const agreeLabel = this.el('label', 'agree');
    const agree = this.el('input');
    agree.type = 'checkbox';
    agree.dataset.tomoni = 'agree';
    agreeLabel.append(agree, document.createTextNode(t.agree));
    body.appendChild(agreeLabel);
    const next = this.el('button', 'primary', t.enterCode);
    next.type = 'button';
    next.dataset.tomoni = 'enter-code';
    next.disabled = true;
    agree.onchange = () => { next.disabled = !agree.checked; };
    buttons.append(close, next);

    next.onclick = () => {
      // Step 2: the code.
      body.textContent = '';
      buttons.textContent = '';
      const label = this.el('label', '', t.codeLabel);
      const input = this.el('input', 'code');
      input.type = 'text';
      input.inputMode = 'numeric';
      input.autocomplete = 'one-time-code';
      input.maxLength = 6;
      input.pattern = '[0-9]*';
      input.dataset.tomoni = 'code';
      input.setAttribute('aria-label', t.codeLabel);
      const err = this.el('div', 'error');
      err.setAttribute('role', 'alert');
      err.dataset.tomoni = 'error';
      label.appendChild(input);
      body.append(label, err);
      const ok = this.el('button', 'primary', t.ok);
      ok.type = 'submit';
      ok.dataset.tomoni = 'ok';
      buttons.append(close, ok);
      const submit = async () => {
        const code = input.value.replace(/[^0-9０-９]/g, '').replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
        if (code.length !== 6) { err.textContent = t.errFormat; err.dataset.code = 'format'; return; }
        ok.disabled = true;
        err.textContent = t.connecting;
        err.dataset.code = 'connecting';
        const problem = await onSubmit(code);
        ok.disabled = false;
        if (!box.isConnected) return; // the confirmation step replaced this dialog
        if (problem) { err.textContent = problem.text; err.dataset.code = problem.code; input.select(); return; }
        this.closeDialog();
      };
      ok.onclick = () => void submit();
      input.onkeydown = (e) => { if (e.key === 'Enter') void submit(); };
      input.focus();
    };
  }

  /** A dialog of its own around body, with one row of buttons. */
  private modal(title: string, body: HTMLElement, ...buttons: HTMLButtonElement[]): void {
    this.closeDialog();
    this.mount();
    const backdrop = this.el('div', 'backdrop');
    const box = this.el('div', 'dialog');
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    box.setAttribute('aria-label', title);
    const row = this.el('div', 'buttons');
    row.append(...buttons);
    box.append(this.el('h2', '', title), body, row);
    backdrop.appendChild(box);
    this.root.appendChild(backdrop);
    this.dialog = backdrop;
    buttons[buttons.length - 1]?.focus();
  }

  private button(cls: string, text: string, key: string, onClick: () => void): HTMLButtonElement {
    const b = this.el('button', cls, text);
    b.type = 'button';
    b.dataset.tomoni = key;
    b.onclick = onClick;
    return b;
  }

  /**
   * Shows the check number the customer reads out to staff while the join
   * request waits for their admission; onCancel withdraws the request.
   */
  waitForStaff(check: string, onCancel: () => void): void {
    const t = this.t;
    const body = this.el('div', 'body');
    const number = this.el('strong', 'check', check);
    number.dataset.tomoni = 'check';
    number.setAttribute('aria-label', `${t.checkLabel} ${check.split('').join(' ')}`);
    body.append(this.el('p', '', t.waitText), this.el('div', '', t.checkLabel), number, this.el('p', '', t.waitNote));
    this.modal(t.waitTitle, body, this.button('secondary', t.cancel, 'cancel-wait', () => { this.closeDialog(); onCancel(); }));
  }

  /** Tells the customer why joining stopped; code is kept in data-code. */
  showMessage(text: string, code: string): void {
    const body = this.el('div', 'body');
    const p = this.el('p', 'error', text);
    p.setAttribute('role', 'alert');
    p.dataset.tomoni = 'message';
    p.dataset.code = code;
    body.appendChild(p);
    this.modal(this.t.notice, body, this.button('primary', this.t.close, 'close', () => this.closeDialog()));
  }

  /** Asks the customer to confirm the staff member's name before anything is shared. */
  confirmStaff(name: string): Promise<boolean> {
    this.closeDialog();
    this.mount();
    const t = this.t;
    return new Promise((resolve) => {
      const backdrop = this.el('div', 'backdrop');
      const box = this.el('div', 'dialog');
      box.setAttribute('role', 'dialog');
      box.setAttribute('aria-modal', 'true');
      box.setAttribute('aria-label', t.confirmTitle);
      box.appendChild(this.el('h2', '', t.confirmTitle));
      const body = this.el('div', 'body');
      const who = this.el('p', 'staff-name');
      who.dataset.tomoni = 'staff-name';
      who.append(document.createTextNode(`${t.confirmStaff}: `), this.el('strong', '', name));
      body.append(who, this.el('p', '', t.confirmText));
      const buttons = this.el('div', 'buttons');
      const cancel = this.el('button', 'secondary', t.cancel);
      cancel.type = 'button';
      cancel.dataset.tomoni = 'decline';
      const start = this.el('button', 'primary', t.start);
      start.type = 'button';
      start.dataset.tomoni = 'confirm';
      buttons.append(cancel, start);
      box.append(body, buttons);
      backdrop.appendChild(box);
      this.root.appendChild(backdrop);
      this.dialog = backdrop;
      const done = (ok: boolean) => { this.closeDialog(); resolve(ok); };
      cancel.onclick = () => done(false);
      start.onclick = () => done(true);
      start.focus();
    });
  }

  closeDialog(): void {
    this.dialog?.remove();
    this.dialog = null;
  }

  showBanner(state: 'live' | 'paused' | 'reconnecting', text: string, staff: string, onEnd: () => void, watchers: string[] = []): void {
    this.mount();
    if (!this.banner) {
      this.banner = this.el('div', 'banner');
      this.banner.setAttribute('role', 'status');
      this.banner.dataset.tomoni = 'banner';
      this.root.appendChild(this.banner);
    }
    const b = this.banner;
    b.className = 'banner ' + state;
    b.dataset.state = state;
    b.textContent = '';
    const label = this.el('span', 'label', text);
    label.dataset.tomoni = 'banner-text';
    b.append(this.el('span', 'dot'), label);
    if (staff) b.appendChild(this.el('span', 'staff', `${this.t.staff}: ${staff}`));
    if (watchers.length) {
      // Whoever else looks at the screen is named: the customer shares with people, not with "the bank".
      const w = this.el('span', 'watching', `${this.t.watching}: ${watchers.join('・')}`);
      w.dataset.tomoni = 'watchers';
      b.appendChild(w);
    }
    const end = this.el('button', '', this.t.end);
    end.type = 'button';
    end.dataset.tomoni = 'end';
    end.onclick = onEnd;
    b.appendChild(end);
  }

  hideBanner(): void {
    this.banner?.remove();
    this.banner = null;
  }

  /** Shows text for ms; kind is a stable key for what it says (data-kind). */
  toast(text: string, ms = 4000, kind = ''): void {
    this.mount();
    this.toastEl?.remove();
    const t = this.el('div', 'toast', text);
    t.setAttribute('role', 'status');
    t.dataset.tomoni = 'toast';
    if (kind) t.dataset.kind = kind;
    this.root.appendChild(t);
    this.toastEl = t;
    setTimeout(() => { if (this.toastEl === t) { t.remove(); this.toastEl = null; } }, ms);
  }

  /**
   * Places staff member by's 〇 in their colour. With more than one staff
   * member on the session each circle carries its owner's name, so the
   * customer can tell whose it is.
   */
  showPointer(by: number, x: number, y: number, name: string, named: boolean): void {
    this.mount();
    let p = this.pointers.get(by);
    if (!p) {
      const dot = this.el('div', 'pointer');
      dot.dataset.tomoni = 'pointer';
      dot.dataset.by = String(by);
      dot.setAttribute('aria-hidden', 'true');
      dot.style.borderColor = colourOf(by);
      const label = this.el('div', 'pointer-label');
      label.dataset.tomoni = 'pointer-label';
      label.style.background = colourOf(by);
      label.setAttribute('aria-hidden', 'true');
      this.root.append(dot, label);
      p = { dot, label };
      this.pointers.set(by, p);
    }
    p.dot.style.left = `${x}px`;
    p.dot.style.top = `${y}px`;
    p.label.textContent = name;
    p.label.hidden = !named || !name;
    p.label.style.left = `${x + 16}px`;
    p.label.style.top = `${y + 14}px`;
  }

  /** Removes the pointers and highlights of staff members not in bys. */
  keepOnly(bys: Set<number>): void {
    for (const k of [...this.pointers.keys()]) if (!bys.has(k)) this.hidePointer(k);
    for (const k of [...this.highlights.keys()]) if (!bys.has(k)) this.hideHighlight(k);
  }

  /** Hides staff member by's pointer, or every pointer. */
  hidePointer(by?: number): void {
    for (const [k, p] of this.pointers) {
      if (by !== undefined && k !== by) continue;
      p.dot.remove();
      p.label.remove();
      this.pointers.delete(k);
    }
  }

  showHighlight(by: number, r: Rect): void {
    this.mount();
    let el = this.highlights.get(by);
    if (!el) {
      el = this.el('div', 'highlight');
      el.dataset.tomoni = 'highlight';
      el.dataset.by = String(by);
      // The first staff member's highlight keeps the marker yellow; others' borders take their colour.
      if (by !== 0) el.style.borderColor = colourOf(by);
      this.root.appendChild(el);
      this.highlights.set(by, el);
    }
    const h = el.style;
    h.left = `${r.left - 4}px`;
    h.top = `${r.top - 4}px`;
    h.width = `${r.width + 8}px`;
    h.height = `${r.height + 8}px`;
  }

  private strokes: SVGSVGElement | null = null;

  /** Draws a stroke in viewport pixels; a laser trail fades within a second, a pen stroke after four. */
  drawStroke(points: { x: number; y: number }[], kind: 'laser' | 'pen', by = 0): void {
    this.mount();
    const ns = 'http://www.w3.org/2000/svg';
    if (!this.strokes) {
      this.strokes = document.createElementNS(ns, 'svg');
      this.strokes.setAttribute('class', 'strokes');
      this.strokes.setAttribute('aria-hidden', 'true');
      this.strokes.dataset.tomoni = 'strokes';
      this.root.appendChild(this.strokes);
    }
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('class', kind);
    line.setAttribute('points', points.map((p) => `${Math.round(p.x)},${Math.round(p.y)}`).join(' '));
    line.dataset.kind = kind;
    line.dataset.by = String(by);
    if (by !== 0) line.style.stroke = colourOf(by);
    this.strokes.appendChild(line);
    // What was drawn last, kept after it fades: for tests and support tools.
    this.strokes.dataset.last = `${kind} ${Math.round(points[0].x)},${Math.round(points[0].y)} ${points.length}`;
    const stay = kind === 'laser' ? 400 : 3400;
    setTimeout(() => { line.style.opacity = '0'; }, stay);
    setTimeout(() => line.remove(), stay + 700);
  }

  /** Hides staff member by's highlight, or every highlight. */
  hideHighlight(by?: number): void {
    for (const [k, el] of this.highlights) {
      if (by !== undefined && k !== by) continue;
      el.remove();
      this.highlights.delete(k);
    }
  }

  /** For tests and sites: where a pointer's centre is (staff member by's, or the first shown), in viewport pixels. */
  pointerCentre(by?: number): { x: number; y: number } | null {
    const p = by === undefined ? this.pointers.values().next().value : this.pointers.get(by);
    if (!p) return null;
    return { x: parseFloat(p.dot.style.left), y: parseFloat(p.dot.style.top) };
  }

  /**
   * Asks the customer whether another staff member may take over (kind
   * handover) or lead beside the current one (takeover). Until they accept,
   * the new staff member neither sees the screen as their agent nor points.
   */
  confirmHandover(name: string, kind: string): Promise<boolean> {
    const t = this.t;
    return new Promise((resolve) => {
      const body = this.el('div', 'body');
      const who = this.el('p', 'staff-name');
      who.dataset.tomoni = 'handover-name';
      who.append(document.createTextNode(`${t.handoverNew}: `), this.el('strong', '', name));
      body.append(who, this.el('p', '', kind === 'takeover' ? t.takeoverText : t.handoverText));
      const answer = (ok: boolean) => { this.closeDialog(); resolve(ok); };
      this.modal(t.handoverTitle, body,
        this.button('secondary', t.handoverDecline, 'handover-decline', () => answer(false)),
        this.button('primary', t.handoverAccept, 'handover-accept', () => answer(true)));
      if (this.dialog) this.dialog.dataset.tomoni = 'handover';
    });
  }

  /** Whether the dialog shown is the hand-over question. */
  askingHandover(): boolean {
    return this.dialog?.dataset.tomoni === 'handover';
  }

  hasBanner(): boolean {
    return this.banner !== null;
  }

  bannerText(): string {
    return this.banner?.querySelector('.label')?.textContent ?? '';
  }

  clearAll(): void {
    this.strokes?.remove();
    this.strokes = null;
    this.closeDialog();
    this.hideBanner();
    this.hidePointer();
    this.hideHighlight();
  }
}
