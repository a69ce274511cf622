// Capture: rrweb record with Tomoni's masking. Every form field's value is
// replaced in the browser before anything is serialised; the site can mask
// more (data-tomoni-mask) or block whole elements (data-tomoni-block).
import { record } from 'rrweb';

/** What a masked value looks like to staff: a fixed length, so the real length is not revealed either. */
export const MASK = '••••••';

export const BLOCK_SELECTOR = '[data-tomoni-ui], [data-tomoni-block]';
export const MASK_TEXT_SELECTOR = '[contenteditable]:not([contenteditable="false"]), [data-tomoni-mask]';

type Emit = (e: unknown) => void;

export class Capture {
  private stop: (() => void) | undefined;
  private lastSnapshot = 0;
  private pending: ReturnType<typeof setTimeout> | undefined;

  start(emit: Emit): void {
    this.stopNow();
    this.stop = record({
      emit: (e) => emit(e),
      maskAllInputs: true,
      maskInputFn: (text: string) => (text ? MASK : ''),
      maskTextSelector: MASK_TEXT_SELECTOR,
      maskTextFn: (text: string) => (text.trim() ? MASK : text),
      blockSelector: BLOCK_SELECTOR,
      slimDOMOptions: 'all',
      inlineStylesheet: true,
      recordCanvas: false,
      collectFonts: false,
      inlineImages: false,
      recordCrossOriginIframes: false,
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

  stopNow(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    if (this.stop) {
      this.stop();
      this.stop = undefined;
    }
  }

  node(id: number): Node | null {
    return record.mirror.getNode(id);
  }
}
