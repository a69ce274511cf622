// Masking in the customer's browser, beyond rrweb's own options. rrweb
// leaves gaps (hidden inputs, user data in attributes, option lists, text in
// shadow roots under a masked host, fields toggled out of type=password, …);
// this processor rewrites each event against the live DOM before it is
// queued, so nothing sensitive is ever serialised into a frame.
import { cleanURL, joinSelectors, PolicyView } from './policy';
// What counts as user data: one file for the SDK and the server filter.
import rules from '../../internal/privacy/rules.json';

/** What a masked value looks like: a fixed length, so the real length is not revealed either. */
export const MASK: string = rules.mask;

const SENSITIVE_AUTOCOMPLETE: string[] = rules.sensitive_autocomplete;
const USER_ATTRS: string[] = rules.user_attributes;
const BUTTON_TYPES: string[] = rules.button_types;
const NEVER_UNMASKED_TYPES: string[] = rules.never_unmasked_types;
const CONTAINER_TAGS: string[] = rules.container_tags.map((t) => t.toUpperCase());
const DOCUMENT_ATTRS: string[] = rules.document_attributes;
const UNMASKED_MARKER: string = rules.unmasked_marker;

/** Whether a frame's URL holds a document of its own (data:text/html and the like). */
function markupURL(u: string): boolean {
  const v = u.trim().toLowerCase();
  return v.startsWith('data:text/html') || v.startsWith('data:application/xhtml') || v.startsWith('data:image/svg');
}

const FRAME_TAGS = ['IFRAME', 'FRAME', 'OBJECT', 'EMBED'];

// rrweb event and source numbers.
const EV_FULL = 2;
const EV_INCREMENTAL = 3;
const EV_META = 4;
const SRC_MUTATION = 0;
const SRC_INPUT = 5;
const NODE_ELEMENT = 2;
const NODE_TEXT = 3;

interface SNode {
  type: number; id: number; tagName?: string; attributes?: Record<string, unknown>;
  childNodes?: SNode[]; textContent?: string; isStyle?: boolean;
}
interface RREvent { type: number; data: Record<string, unknown> }
type Lookup = (id: number) => Node | null;

/** Canvases not opted in by the policy's canvas_selectors. */
export function blockedCanvases(policy: PolicyView): string {
  const shown = joinSelectors(policy.canvas_selectors || []);
  return shown ? `canvas:not(${shown})` : 'canvas';
}

export class Privacy {
  readonly maskSelector: string;
  readonly blockSelector: string;
  private unmaskSelector: string;
  private everSensitive = new WeakSet<Element>();

  constructor(private policy: PolicyView, private lookup: Lookup) {
    this.maskSelector = joinSelectors(['[contenteditable]:not([contenteditable="false"])', '[data-tomoni-mask]', ...policy.mask_selectors]);
    // A canvas can show anything, private data included: unless the policy
    // names it, it becomes an empty box of its size, so nothing below moves.
    this.blockSelector = joinSelectors(['[data-tomoni-ui]', '[data-tomoni-block]', '[data-tomoni-softkeyboard]', blockedCanvases(policy), ...policy.block_selectors, ...policy.softkeyboard_selectors]);
    this.unmaskSelector = joinSelectors(['[data-tomoni-unmask]', ...policy.unmask_selectors]);
  }

  /** Remembers fields that are password fields now, so a later "show password" toggle keeps them masked. */
  rememberSensitive(root: ParentNode): void {
    root.querySelectorAll('input[type=password], input[type=hidden]').forEach((el) => this.everSensitive.add(el));
  }

  /** Never shown, whatever the allow-list says. */
  private sensitiveField(el: Element): boolean {
    if (this.everSensitive.has(el)) return true;
    if (el.tagName === 'INPUT') {
      const t = (el.getAttribute('type') || '').trim().toLowerCase();
      if (NEVER_UNMASKED_TYPES.includes(t)) {
        this.everSensitive.add(el);
        return true;
      }
    }
    const ac = (el.getAttribute('autocomplete') || '').toLowerCase().split(/\s+/);
    if (ac.some((tok) => SENSITIVE_AUTOCOMPLETE.includes(tok))) {
      this.everSensitive.add(el);
      return true;
    }
    return false;
  }

  private isField(el: Element): boolean {
    const tag = el.tagName;
    if (CONTAINER_TAGS.includes(tag) || tag === 'OPTION') return true;
    if (tag !== 'INPUT') return false;
    return !BUTTON_TYPES.includes((el.getAttribute('type') || '').trim().toLowerCase());
  }

  /** Fields whose whole content is user data: textarea, select, output, datalist. */
  private isContainer(el: Element): boolean {
    return CONTAINER_TAGS.includes(el.tagName);
  }

  /** Whether a node lies inside a masked or blocked element, across shadow roots. */
  insideMasked(n: Node | null): boolean {
    let cur: Node | null = n;
    while (cur) {
      if (cur.nodeType === Node.ELEMENT_NODE) {
        const el = cur as Element;
        if (this.matches(el, this.maskSelector) || this.matches(el, this.blockSelector)) return true;
        if (this.isContainer(el) && this.fieldMasked(el)) return true;
      }
      cur = cur.parentNode || (cur instanceof ShadowRoot ? cur.host : null);
    }
    return false;
  }

  private matches(el: Element, sel: string): boolean {
    try { return sel !== '' && el.matches(sel); } catch { return false; }
  }

  /** Whether a form field's value is masked: always by default, unless allow-listed and not sensitive. */
  fieldMasked(el: Element): boolean {
    if (el.tagName === 'OPTION') {
      const sel = el.closest('select');
      return sel ? this.fieldMasked(sel) : true;
    }
    if (this.sensitiveField(el)) return true;
    if (this.matches(el, this.unmaskSelector) && !this.insideMaskedAncestor(el)) return false;
    return true;
  }

  private insideMaskedAncestor(el: Element): boolean {
    return this.insideMasked(el.parentNode || (el.getRootNode() instanceof ShadowRoot ? (el.getRootNode() as ShadowRoot).host : null));
  }

  /** rrweb's maskInputFn. */
  maskInput(text: string, el: HTMLElement): string {
    if (!text) return '';
    return this.fieldMasked(el) || this.insideMaskedAncestor(el) ? MASK : text;
  }

  /** rrweb's maskTextFn. */
  maskText(text: string): string {
    return text.trim() ? MASK : text;
  }

  /** Rewrites one rrweb event in place. */
  scrub(e: RREvent): void {
    const d = e.data;
    if (e.type === EV_META) {
      if (typeof d.href === 'string') d.href = cleanURL(this.policy, d.href);
    } else if (e.type === EV_FULL) {
      this.rememberSensitive(document);
      this.walk(d.node as SNode, false);
    } else if (e.type === EV_INCREMENTAL && d.source === SRC_MUTATION) {
      for (const a of (d.adds as { parentId: number; node: SNode }[]) || []) {
        this.walk(a.node, this.insideMasked(this.lookup(a.parentId)));
      }
      for (const a of (d.attributes as { id: number; attributes: Record<string, unknown> }[]) || []) {
        const el = this.lookup(a.id);
        if (el instanceof Element) {
          this.scrubAttrs(el, a.attributes, this.insideMasked(el));
        }
      }
      for (const t of (d.texts as { id: number; value: string | null }[]) || []) {
        const n = this.lookup(t.id);
        if (n && typeof t.value === 'string' && this.insideMasked(n.parentNode)) t.value = this.maskText(t.value);
      }
    } else if (e.type === EV_INCREMENTAL && d.source === SRC_INPUT) {
      const el = this.lookup(d.id as number);
      if (el instanceof Element && typeof d.text === 'string' && d.text && (this.fieldMasked(el) || this.insideMasked(el))) d.text = MASK;
    }
  }

  private walk(n: SNode | undefined, masked: boolean): void {
    if (!n) return;
    if (n.type === NODE_TEXT) {
      if (masked && !n.isStyle && typeof n.textContent === 'string') n.textContent = this.maskText(n.textContent);
      return;
    }
    let inner = masked;
    if (n.type === NODE_ELEMENT) {
      const el = this.lookup(n.id);
      const attrs = n.attributes || {};
      if (el instanceof Element) {
        if (this.matches(el, this.maskSelector) || this.matches(el, this.blockSelector)) inner = true;
        if (this.isContainer(el) && this.fieldMasked(el)) inner = true;
        this.scrubAttrs(el, attrs, masked || inner);
      } else if ('data-tomoni-mask' in attrs || 'data-tomoni-block' in attrs) {
        inner = true;
        this.scrubElementAttrs(attrs);
      }
    }
    for (const c of n.childNodes || []) this.walk(c, inner);
  }

  private scrubAttrs(el: Element, attrs: Record<string, unknown>, masked: boolean): void {
    const field = this.isField(el);
    this.dropDocuments(attrs, FRAME_TAGS.includes(el.tagName));
    if (masked || (field && this.fieldMasked(el))) {
      this.scrubElementAttrs(attrs);
    } else if (field && el.tagName === 'INPUT' && this.sensitiveField(el)) {
      this.scrubElementAttrs(attrs);
    } else if (field && el.tagName !== 'OPTION') {
      // Shown because the site's policy unmasks it: say so, so that the
      // server filter, which masks every field, lets it through too.
      attrs[UNMASKED_MARKER] = '';
    }
    if ((el.tagName === 'A' || el.tagName === 'AREA') && typeof attrs.href === 'string') attrs.href = cleanURL(this.policy, attrs.href);
    if (el.tagName === 'FORM' && typeof attrs.action === 'string') attrs.action = cleanURL(this.policy, attrs.action);
  }

  /**
   * An attribute that holds a whole document (an iframe's srcdoc, a
   * data:text/html URL) carries field values the masking cannot see into:
   * it is replaced by a blank document; the frame keeps its size.
   */
  private dropDocuments(attrs: Record<string, unknown>, frame: boolean): void {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (typeof v !== 'string') continue;
      if (DOCUMENT_ATTRS.includes(k) && v !== '' && v !== rules.blank_document) attrs[k] = rules.blank_document;
      // An image's SVG data URL is a picture, not a page: only frames lose theirs.
      else if (frame && (k === 'src' || k === 'rr_src' || k === 'data') && markupURL(v)) attrs[k] = 'about:blank';
    }
  }

  private scrubElementAttrs(attrs: Record<string, unknown>): void {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (typeof v !== 'string' || v === '' || v === MASK) continue;
      // A masked placeholder goes blank rather than showing the mask: an
      // empty field must look empty to staff, not filled.
      if (k === 'placeholder') attrs[k] = '';
      else if (USER_ATTRS.includes(k) || (k.startsWith('data-') && !k.startsWith('data-tomoni-'))) attrs[k] = MASK;
    }
  }
}
