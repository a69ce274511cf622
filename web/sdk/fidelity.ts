// Fidelity fixes applied to recorded events in the customer's browser, for
// what the staff's replay cannot reproduce on its own.
type Lookup = (id: number) => Node | null;
interface SNode { type: number; id: number; attributes?: Record<string, unknown>; childNodes?: SNode[] }
interface RREvent { type: number; data: Record<string, unknown> }

const EV_FULL = 2;
const EV_INCREMENTAL = 3;
const SRC_MUTATION = 0;
const NODE_ELEMENT = 2;

/**
 * Whether el shows content from a closed shadow root, which no script can
 * read: a defined custom element with no open shadow root and no light
 * content of its own, that still takes up space.
 */
export function closedShadowHost(el: Element): boolean {
  if (!el.tagName.includes('-') || el.shadowRoot || el.childElementCount > 0 || (el.textContent || '').trim()) return false;
  if (typeof customElements === 'undefined' || !customElements.get(el.tagName.toLowerCase())) return false;
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
}

/**
 * Gives every closed-shadow host in the event the box it has on the
 * customer's screen, so staff see a neutral box of the right size where the
 * unreadable content is, and nothing around it moves.
 */
export function boxClosedShadowHosts(e: RREvent, lookup: Lookup): void {
  const walk = (n: SNode | undefined): void => {
    if (!n) return;
    if (n.type === NODE_ELEMENT) {
      const el = lookup(n.id);
      if (el instanceof Element && closedShadowHost(el)) {
        const r = el.getBoundingClientRect();
        const display = getComputedStyle(el).display;
        const attrs = n.attributes || (n.attributes = {});
        const style = typeof attrs.style === 'string' ? `${attrs.style};` : '';
        attrs.style = `${style}display:${display === 'inline' ? 'inline-block' : display};width:${r.width}px;height:${r.height}px;box-sizing:border-box;background:#eef0f3`;
      }
    }
    for (const c of n.childNodes || []) walk(c);
  };
  if (e.type === EV_FULL) walk(e.data.node as SNode);
  else if (e.type === EV_INCREMENTAL && e.data.source === SRC_MUTATION) {
    for (const a of (e.data.adds as { node: SNode }[]) || []) walk(a.node);
  }
}
