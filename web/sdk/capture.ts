// Capture: rrweb record with Tomoni's masking. Every form field's value is
// replaced in the browser before anything is serialised; the site can mask
// more (data-tomoni-mask, policy selectors) or block whole elements.
import { record } from '@rrweb/record';
import { PolicyView } from './policy';
import { boxClosedShadowHosts } from './fidelity';
import { blockedCanvases, Privacy } from './privacy';
import { joinSelectors } from './policy';

type Emit = (e: unknown) => void;

// rrweb event numbers (stable parts of its format).
const EV_FULL = 2;
const EV_INCREMENTAL = 3;
const SRC_MOUSE_INTERACTION = 2;
const FOCUS = 5;
// How often opted-in canvases are looked at, and the largest image sent.
const CANVAS_MS = 1000;
const MAX_CANVAS_IMAGE = 1 << 20;

export class Capture {
  private stop: (() => void) | undefined;
  private lastSnapshot = 0;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private active = false;
  privacy: Privacy | null = null;

  start(policy: PolicyView, emit: Emit): void {
    this.stopNow();
    const privacy = new Privacy(policy, (id) => record.mirror.getNode(id));
    this.privacy = privacy;
    const masking = policy.sdk_masking;
    // rrweb emits the first snapshot inside record(), before it returns.
    this.active = true;
    this.canvasSelector = joinSelectors(policy.canvas_selectors || []);
    this.stop = record({
      emit: (e) => {
        if (!this.active) return;
        if (!dropOwnUI(e as never)) return;
        if (masking) privacy.scrub(e as never);
        boxClosedShadowHosts(e as never, (id) => record.mirror.getNode(id));
        emit(e);
        if ((e as { type: number }).type === EV_FULL) {
          this.emitFocus(emit);
          this.canvasImages.clear();
          this.emitCanvases(emit);
        }
      },
      maskAllInputs: masking,
      maskInputFn: masking ? (text: string, el: HTMLElement) => privacy.maskInput(text, el) : undefined,
      maskTextSelector: masking ? privacy.maskSelector : undefined,
      maskTextFn: masking ? (text: string) => privacy.maskText(text) : undefined,
      // Tomoni's own UI and software keyboards are never captured, even in
      // tests that turn masking off.
      blockSelector: masking ? privacy.blockSelector : `[data-tomoni-ui], [data-tomoni-softkeyboard], ${blockedCanvases(policy)}`,
      slimDOMOptions: 'all',
      inlineStylesheet: true,
      recordCanvas: false,
      collectFonts: false,
      inlineImages: false,
      recordCrossOriginIframes: false,
      // A fresh full snapshot every so often: the console then starts its
      // replay over from it and lets go of everything before, so a long
      // session does not grow the staff's memory without bound.
      checkoutEveryNms: policy.snapshot_every_ms && policy.snapshot_every_ms > 0 ? policy.snapshot_every_ms : undefined,
      sampling: {
        // rrweb's default only emits mouse positions every 500 ms: too
        // slow to talk over. 50 ms keeps the staff's view fluid.
        mousemove: 50,
        mousemoveCallback: 50,
        scroll: 100,
        // 'last' only reports on blur; live help needs to see a field fill.
        input: 'all',
        media: 800,
      },
    });
    this.lastSnapshot = Date.now();
    if (this.canvasSelector) this.canvasTimer = setInterval(() => { if (this.active) this.emitCanvases(emit); }, CANVAS_MS);
  }

  private canvasSelector = '';
  private canvasTimer: ReturnType<typeof setInterval> | undefined;
  // The last image sent of each canvas, by node id: only changes are sent.
  private canvasImages = new Map<number, string>();

  /**
   * Sends the canvases the policy lets staff see as images (the replay runs
   * no scripts, so it cannot draw them itself), when they have changed.
   */
  private emitCanvases(emit: Emit): void {
    if (!this.canvasSelector) return;
    const attributes: { id: number; attributes: Record<string, string> }[] = [];
    document.querySelectorAll(this.canvasSelector).forEach((el) => {
      if (!(el instanceof HTMLCanvasElement)) return;
      const id = record.mirror.getId(el);
      if (id <= 0) return;
      let url: string;
      try { url = el.toDataURL('image/png'); } catch { return; } // drawn from another origin: unreadable
      if (url.length > MAX_CANVAS_IMAGE || this.canvasImages.get(id) === url) return;
      this.canvasImages.set(id, url);
      attributes.push({ id, attributes: { rr_dataURL: url } });
    });
    if (attributes.length) emit({ type: EV_INCREMENTAL, data: { source: 0, texts: [], attributes, removes: [], adds: [] }, timestamp: Date.now() });
  }

  /**
   * rrweb records focus changes but not which element has the focus when
   * it takes a snapshot: say so after each one, so the staff's replay shows
   * the focused field as focused (its :focus styles).
   */
  private emitFocus(emit: Emit): void {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return;
    const id = record.mirror.getId(el);
    if (id > 0) emit({ type: EV_INCREMENTAL, data: { source: SRC_MOUSE_INTERACTION, type: FOCUS, id }, timestamp: Date.now() });
  }

  running(): boolean {
    return this.stop !== undefined;
  }

  /** A fresh full snapshot, at most one per second. */
  snapshot(): void {
    if (!this.stop) return;
    const now = Date.now();
    if (now - this.lastSnapshot < 1000) {
      if (this.pending === undefined) {
        this.pending = setTimeout(() => { this.pending = undefined; this.snapshot(); }, 1000 - (now - this.lastSnapshot));
      }
      return;
    }
    this.lastSnapshot = now;
    record.takeFullSnapshot(true);
  }

  /** Stops at once: nothing rrweb still has buffered is emitted after this. */
  stopNow(): void {
    clearInterval(this.canvasTimer);
    this.canvasTimer = undefined;
    this.canvasSelector = '';
    this.canvasImages.clear();
    clearTimeout(this.pending);
    this.pending = undefined;
    this.active = false;
    const stop = this.stop;
    this.stop = undefined;
    if (stop) stop();
  }

  node(id: number): Node | null {
    return record.mirror.getNode(id);
  }
}

interface Mutation {
  adds?: { parentId: number; node: { id: number } }[];
  removes?: { parentId: number; id: number }[];
  attributes?: { id: number }[];
  texts?: { id: number }[];
}

/** Whether node is Tomoni's own UI: its host, or anything in its shadow tree. */
function ownUI(n: Node | null): boolean {
  if (!n) return false;
  if (n instanceof Element && n.hasAttribute('data-tomoni-ui')) return true;
  const root = n.getRootNode();
  return root instanceof ShadowRoot && root.host.hasAttribute('data-tomoni-ui');
}

/**
 * Takes changes inside Tomoni's own UI out of a mutation event; returns
 * false when nothing is left of it (an empty change carries nothing
 * either). The UI's host is blocked, but when it
 * is mounted after recording began, rrweb watches its shadow root like
 * any other and would send the banner, pointers and highlights to staff,
 * where, unstyled, they would push the page's content about.
 */
function dropOwnUI(e: { type: number; data: { source?: number } & Mutation }): boolean {
  if (e.type !== EV_INCREMENTAL || e.data.source !== 0) return true;
  const d = e.data;
  const ours = (id: number) => ownUI(record.mirror.getNode(id));
  d.adds = d.adds?.filter((a) => !ours(a.parentId) && !ours(a.node.id));
  d.removes = d.removes?.filter((r) => !ours(r.parentId));
  d.attributes = d.attributes?.filter((a) => !ours(a.id));
  d.texts = d.texts?.filter((x) => !ours(x.id));
  return (d.adds?.length || 0) + (d.removes?.length || 0) + (d.attributes?.length || 0) + (d.texts?.length || 0) > 0;
}
