// The live view: rrweb's Replayer in live mode inside a sandboxed iframe
// (no scripts, no canvas replay), scaled to fit, plus the staff's pointer
// and highlight tools. It only ever sends pointer, highlight and resync.
import { Replayer } from 'rrweb';
import { colourOf } from '../shared/palette';

// rrweb event and source numbers (stable parts of its format).
const EV_FULL = 2;
const EV_INCREMENTAL = 3;
const EV_META = 4;
const SRC_MOUSE_INTERACTION = 2;
const SRC_SCROLL = 3;
const SRC_VIEWPORT = 4;
const FOCUS = 5;
const BLUR = 6;

interface RREvent { type: number; timestamp: number; data: Record<string, unknown> }

export interface ViewInfo { width: number; height: number; scrollX: number; scrollY: number; href: string }

/** The customer's visual viewport: the part of the page a pinch-zoomed phone shows. */
export interface Visual { x: number; y: number; w: number; h: number; s: number }

export type Tool = 'pointer' | 'highlight' | 'pen' | 'laser';

interface Drawing { kind: 'pen' | 'laser'; pts: [number, number, number][]; unsent: number; line: SVGPolylineElement; screen: string[]; lastSent: number }

export class LiveView {
  private replayer: Replayer | null = null;
  private pending: RREvent[] = [];
  private stage: HTMLElement;
  private overlay: HTMLElement;
  private scale = 1;
  private skew = Number.POSITIVE_INFINITY; // local clock − server clock, smallest seen
  private lastPointerSent = 0;
  private pointerTimer: ReturnType<typeof setTimeout> | undefined;
  private highlighted = 0;
  // Events the replay holds since its last full snapshot (data-events, for tests).
  private kept = 0;
  private restarting = false;
  // Events that come before the replay has built its first snapshot (rrweb
  // builds it a tick after it starts): applied at once they would find no
  // nodes, so they wait for it.
  private early: RREvent[] | undefined;
  private resetTimer: ReturnType<typeof setTimeout> | undefined;
  private docId = 1;
  // The customer's focused element: the replay applies focus as an event,
  // which a replay started over (a new snapshot, a reset) may come after.
  private focusId = 0;
  info: ViewInfo = { width: 0, height: 0, scrollX: 0, scrollY: 0, href: '' };
  private visual: Visual | null = null;
  private frame: HTMLElement;
  // The staff's own highlight, drawn over the view where the customer sees it.
  private ownHighlight: HTMLElement;
  private highlightLoop = 0;
  /** Show only the part the customer sees when zoomed in, rather than the whole page with a frame on it. */
  follow = true;
  tool: Tool = 'pointer';
  enabled = true; // pointer allowed (false while paused)

  constructor(private root: HTMLElement, private send: (m: object) => void, private onInfo: (i: ViewInfo) => void) {
    this.stage = document.createElement('div');
    this.stage.className = 'stage';
    this.overlay = document.createElement('div');
    this.overlay.className = 'overlay';
    this.overlay.dataset.testid = 'view-overlay';
    this.frame = document.createElement('div');
    this.frame.className = 'visual-frame';
    this.frame.hidden = true;
    this.ownHighlight = document.createElement('div');
    this.ownHighlight.className = 'own-highlight';
    this.ownHighlight.dataset.testid = 'own-highlight';
    this.ownHighlight.hidden = true;
    this.overlay.append(this.frame, this.ownHighlight);
    root.append(this.stage, this.overlay);
    this.overlay.addEventListener('mousemove', (e) => this.onMove(e));
    this.overlay.addEventListener('mouseleave', () => this.hidePointer());
    this.overlay.addEventListener('click', (e) => this.onClick(e));
    this.overlay.addEventListener('mousedown', (e) => this.startDrawing(e));
    this.overlay.addEventListener('mousemove', (e) => this.continueDrawing(e));
    window.addEventListener('mouseup', () => this.endDrawing());
    new ResizeObserver(() => this.fit()).observe(root);
  }

  /** A batch of customer events, stamped by the server (st) and the customer (ct). */
  addBatch(st: number, ct: number, events: RREvent[]): void {
    const now = Date.now();
    this.skew = Math.min(this.skew, now - st);
    for (const e of events) {
      // Place events on the local clock via the server's receive time, so a
      // customer clock that is off by minutes does not delay the replay.
      e.timestamp = st + this.skew - Math.max(0, ct - e.timestamp);
      this.track(e);
      if (this.replayer && e.type === EV_META) {
        // A new page or a periodic snapshot follows: the replay starts over
        // from it and drops every older event (rrweb's live replay keeps
        // them all), so the console's memory stays flat. The old page stays
        // on screen until the new snapshot is in.
        this.pending = [e];
        this.restarting = true;
      } else if (this.replayer && !this.restarting) {
        if (this.early) this.early.push(e);
        else this.replayer.addEvent(e as never);
        this.kept++;
      } else if (e.type === EV_META || (this.pending.length > 0)) {
        this.pending.push(e);
        if (e.type === EV_FULL) this.startReplayer();
      }
    }
    this.root.dataset.events = String(this.kept);
    this.keepFocus();
  }

  /** Focuses the customer's focused element in the replay, once it is there (for up to a second). */
  private keepFocus(frames = 60): void {
    if (!this.focusId || !this.replayer) return;
    const el = this.replayer.getMirror().getNode(this.focusId) as HTMLElement | null;
    const doc = this.replayer.iframe.contentDocument;
    if (!el || !doc) {
      if (frames > 0) requestAnimationFrame(() => this.keepFocus(frames - 1));
      return;
    }
    if (doc.activeElement !== el && typeof el.focus === 'function') el.focus({ preventScroll: true });
  }

  private track(e: RREvent): void {
    const d = e.data;
    if (e.type === EV_INCREMENTAL && d.source === SRC_MOUSE_INTERACTION && (d.type === FOCUS || d.type === BLUR)) {
      this.focusId = d.type === FOCUS ? Number(d.id) || 0 : 0;
      return;
    }
    if (e.type === EV_META) {
      // Every snapshot is followed by the focus as it is then (the SDK says so).
      this.focusId = 0;
      this.info = { ...this.info, width: Number(d.width) || 0, height: Number(d.height) || 0, href: String(d.href || '') };
    } else if (e.type === EV_FULL) {
      const node = d.node as { id?: number } | undefined;
      if (node?.id) this.docId = node.id;
      const off = d.initialOffset as { left?: number; top?: number } | undefined;
      this.info = { ...this.info, scrollX: off?.left || 0, scrollY: off?.top || 0 };
    } else if (e.type === EV_INCREMENTAL && d.source === SRC_SCROLL && d.id === this.docId) {
      this.info = { ...this.info, scrollX: Number(d.x) || 0, scrollY: Number(d.y) || 0 };
    } else if (e.type === EV_INCREMENTAL && d.source === SRC_VIEWPORT) {
      this.info = { ...this.info, width: Number(d.width) || 0, height: Number(d.height) || 0 };
    } else {
      return;
    }
    this.onInfo(this.info);
  }

  private startReplayer(): void {
    clearTimeout(this.resetTimer);
    const events = this.pending;
    this.pending = [];
    this.restarting = false;
    this.replayer?.destroy();
    this.stage.textContent = '';
    this.kept = events.length;
    this.replayer = new Replayer(events as never[], {
      root: this.stage,
      liveMode: true,
      useVirtualDom: false,
      UNSAFE_replayCanvas: false,
      mouseTail: false,
      // The focused field is focused in the replay too, so the page's own
      // :focus styles show (the SDK repeats the focus after each snapshot).
      triggerFocus: true,
      showWarning: false,
      pauseAnimation: true,
      insertStyleRules: [
        'html, body { cursor: default !important; }',
        // A frame without scripts forces controls onto every video and
        // audio element; the customer's page shows none of them.
        'video::-webkit-media-controls, audio::-webkit-media-controls { display: none !important; }',
      ],
    });
    this.replayer.on('resize', () => this.fit());
    this.early = [];
    const replayer = this.replayer;
    replayer.on('fullsnapshot-rebuilded', () => {
      if (replayer !== this.replayer || !this.early) return;
      const waiting = this.early;
      this.early = undefined;
      for (const e of waiting) replayer.addEvent(e as never);
    });
    // Events are placed on this clock as they were recorded; with the
    // replay's clock at now, each one plays as soon as it is in, rather
    // than as late as the first snapshot was.
    // Events are placed on this clock as they were recorded; with the
    // replay's clock at now, each one plays as soon as it is in, rather
    // than as late as the first snapshot was (which the earlier baseline,
    // the first event's time, kept as a lag for the whole session). Events
    // older than the baseline are applied at once, on the page itself: not
    // through rrweb's virtual DOM, which only fast-forwarding flushes.
    this.replayer.startLive(Date.now());
    this.replayer.iframe.setAttribute('title', 'customer screen');
    this.fit();
  }

  /** The server dropped our backlog: start over from the next full snapshot. */
  reset(): void {
    this.clear();
    // If no snapshot comes, ask for one.
    this.resetTimer = setTimeout(() => this.send({ t: 'resync' }), 3000);
  }

  /** Removes every trace of the customer's page. */
  clear(): void {
    clearTimeout(this.resetTimer);
    this.replayer?.destroy();
    this.replayer = null;
    this.pending = [];
    this.early = undefined;
    this.restarting = false;
    this.kept = 0;
    this.stage.textContent = '';
    // The highlight stays chosen: the customer's page still shows it, and
    // it shows here again with the next snapshot (a reset, a reconnect).
    this.placeHighlight();
    this.info = { width: 0, height: 0, scrollX: 0, scrollY: 0, href: '' };
    this.visual = null;
    this.frame.hidden = true;
    this.root.dataset.zoom = '';
  }

  hasContent(): boolean {
    return this.replayer !== null;
  }

  /** The customer's visual viewport changed (null: not zoomed). */
  setVisual(v: Visual | null): void {
    this.visual = v && v.s > 1.01 ? v : null;
    this.root.dataset.zoom = this.visual ? String(this.visual.s) : '';
    this.fit();
  }

  /** Whether the customer is zoomed in (a phone's pinch-zoom). */
  get zoomed(): boolean { return this.visual !== null; }

  /** Whether the view now shows only the part a zoomed-in customer sees. */
  get following(): boolean { return this.follow && this.visual !== null; }

  fit(): void {
    if (!this.replayer || !this.info.width || !this.info.height) return;
    const v = this.following ? this.visual : null;
    const w = v ? v.w : this.info.width;
    const h = v ? v.h : this.info.height;
    let s = Math.min(this.root.clientWidth / w, this.root.clientHeight / h, v ? 6 : 2);
    // A phone page laid out for desktops (no viewport meta) is tall and
    // wide: fitted whole it would be unreadable, so fit its width and let
    // the view scroll.
    const byWidth = Math.min(this.root.clientWidth / w, 1);
    const readable = !v && s < 0.5 && byWidth > s;
    if (readable) s = byWidth;
    this.root.classList.toggle('scrolls', readable);
    this.scale = s > 0 ? s : 1;
    const wrapper = this.replayer.wrapper;
    wrapper.style.transformOrigin = '0 0';
    wrapper.style.transform = v ? `scale(${this.scale}) translate(${-v.x}px, ${-v.y}px)` : `scale(${this.scale})`;
    const vis = this.visual;
    this.frame.hidden = !vis || this.following;
    if (vis && !this.following) {
      Object.assign(this.frame.style, { left: `${vis.x * this.scale}px`, top: `${vis.y * this.scale}px`, width: `${vis.w * this.scale}px`, height: `${vis.h * this.scale}px` });
    }
    // On whole pixels: a view placed between them draws every glyph edge blurred.
    const left = Math.round(Math.max(0, (this.root.clientWidth - w * this.scale) / 2));
    this.stage.style.left = `${left}px`;
    this.stage.style.width = `${w * this.scale}px`;
    this.stage.style.height = `${h * this.scale}px`;
    Object.assign(this.overlay.style, { left: `${left}px`, width: `${w * this.scale}px`, height: `${h * this.scale}px` });
  }

  /** The replayed node under a mouse event, with the offset inside it as fractions. */
  private target(e: MouseEvent): { id: number; x: number; y: number } | null {
    if (!this.replayer) return null;
    const iframe = this.replayer.iframe;
    const doc = iframe.contentDocument;
    if (!doc) return null;
    const r = iframe.getBoundingClientRect();
    const x = (e.clientX - r.left) / this.scale;
    const y = (e.clientY - r.top) / this.scale;
    const el = doc.elementFromPoint(x, y);
    if (!el) return null;
    const id = this.replayer.getMirror().getId(el);
    if (!id || id < 0) return null;
    const b = el.getBoundingClientRect();
    const fx = b.width > 0 ? (x - b.left) / b.width : 0.5;
    const fy = b.height > 0 ? (y - b.top) / b.height : 0.5;
    return { id, x: clamp01(fx), y: clamp01(fy) };
  }

  private drawing: Drawing | null = null;
  private strokes: SVGSVGElement | null = null;

  /** Pen and laser: a line drawn over the customer's page, anchored to its nodes like the pointer. */
  private startDrawing(e: MouseEvent): void {
    if (!this.enabled || (this.tool !== 'pen' && this.tool !== 'laser') || e.button !== 0) return;
    e.preventDefault();
    const ns = 'http://www.w3.org/2000/svg';
    if (!this.strokes) {
      this.strokes = document.createElementNS(ns, 'svg');
      this.strokes.setAttribute('class', 'strokes');
      this.overlay.append(this.strokes);
    }
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('class', this.tool);
    line.dataset.testid = 'own-stroke';
    this.strokes.append(line);
    this.drawing = { kind: this.tool, pts: [], unsent: 0, line, screen: [], lastSent: 0 };
    this.continueDrawing(e);
  }

  private continueDrawing(e: MouseEvent): void {
    const d = this.drawing;
    if (!d) return;
    const t = this.target(e);
    if (!t) return;
    const o = this.overlay.getBoundingClientRect();
    d.pts.push([t.id, round(t.x), round(t.y)]);
    d.unsent++;
    d.screen.push(`${Math.round(e.clientX - o.left)},${Math.round(e.clientY - o.top)}`);
    d.line.setAttribute('points', d.screen.join(' '));
    // A laser trail goes out as it is drawn; a pen stroke in pieces of at most 64 points.
    const now = Date.now();
    if ((d.kind === 'laser' && now - d.lastSent >= 80) || d.unsent >= 63) this.sendStroke(d);
  }

  private endDrawing(): void {
    const d = this.drawing;
    if (!d) return;
    this.drawing = null;
    if (d.unsent > 0 || d.pts.length === 1) this.sendStroke(d);
    const line = d.line;
    const stay = d.kind === 'laser' ? 400 : 3400;
    setTimeout(() => { line.style.opacity = '0'; }, stay);
    setTimeout(() => line.remove(), stay + 700);
  }

  private sendStroke(d: Drawing): void {
    // Each piece starts where the last one ended, so the line is unbroken.
    const pts = d.pts.slice(-Math.min(64, d.unsent + 1));
    d.unsent = 0;
    d.lastSent = Date.now();
    this.send({ t: 'stroke', kind: d.kind, pts });
  }

  private onMove(e: MouseEvent): void {
    if (!this.enabled || this.tool !== 'pointer') return;
    const t = this.target(e);
    if (!t) return;
    // At most one pointer message per 50 ms; the last position always goes out.
    clearTimeout(this.pointerTimer);
    const wait = 50 - (Date.now() - this.lastPointerSent);
    const go = () => { this.lastPointerSent = Date.now(); this.send({ t: 'pointer', id: t.id, x: round(t.x), y: round(t.y) }); };
    if (wait <= 0) go();
    else this.pointerTimer = setTimeout(go, wait);
  }

  hidePointer(): void {
    clearTimeout(this.pointerTimer);
    this.send({ t: 'pointer', id: 0 });
  }

  private onClick(e: MouseEvent): void {
    if (!this.enabled || this.tool !== 'highlight') return;
    const t = this.target(e);
    const id = t && t.id !== this.highlighted ? t.id : 0;
    this.highlighted = id;
    this.send({ t: 'highlight', id });
    this.placeHighlight();
  }

  // Other staff members' marks on this session, by their number.
  private others = new Map<number, OtherMarks>();
  private othersLoop = 0;

  private otherOf(by: number, name = ''): OtherMarks {
    let o = this.others.get(by);
    if (!o) {
      const dot = document.createElement('div');
      dot.className = 'other-pointer';
      dot.dataset.testid = 'other-pointer';
      dot.dataset.by = String(by);
      dot.style.borderColor = colourOf(by);
      const label = document.createElement('span');
      label.style.background = colourOf(by);
      dot.append(label);
      const box = document.createElement('div');
      box.className = 'other-highlight';
      box.dataset.testid = 'other-highlight';
      box.style.borderColor = colourOf(by);
      dot.hidden = box.hidden = true;
      this.overlay.append(dot, box);
      o = { name, pointer: null, highlight: 0, dot, box };
      this.others.set(by, o);
    }
    if (name) {
      o.name = name;
      (o.dot.firstChild as HTMLElement).textContent = name;
    }
    return o;
  }

  /** Another staff member's pointer (id 0 hides it), where the customer sees it. */
  otherPointer(by: number, name: string, id: number, x: number, y: number): void {
    this.otherOf(by, name).pointer = id ? { id, x: clamp01(x), y: clamp01(y) } : null;
    this.placeOthers();
  }

  /** Another staff member's highlight (id 0 clears it). */
  otherHighlight(by: number, id: number): void {
    this.otherOf(by).highlight = id;
    this.placeOthers();
  }

  /** Another staff member's stroke, fading as it does on the customer's screen. */
  otherStroke(by: number, kind: 'pen' | 'laser', pts: [number, number, number][]): void {
    if (!this.replayer) return;
    const ns = 'http://www.w3.org/2000/svg';
    if (!this.strokes) {
      this.strokes = document.createElementNS(ns, 'svg');
      this.strokes.setAttribute('class', 'strokes');
      this.overlay.append(this.strokes);
    }
    const screen: string[] = [];
    for (const [id, fx, fy] of pts.slice(0, 64)) {
      const p = this.onView(id, clamp01(fx), clamp01(fy));
      if (p) screen.push(`${Math.round(p.x)},${Math.round(p.y)}`);
    }
    if (!screen.length) return;
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('class', kind);
    line.setAttribute('points', screen.join(' '));
    line.style.stroke = colourOf(by);
    line.dataset.testid = 'other-stroke';
    this.strokes.append(line);
    const stay = kind === 'laser' ? 400 : 3400;
    setTimeout(() => { line.style.opacity = '0'; }, stay);
    setTimeout(() => line.remove(), stay + 700);
  }

  /** Drops the marks of staff members no longer on the session. */
  keepOthers(bys: Set<number>): void {
    for (const [by, o] of this.others) {
      if (bys.has(by)) continue;
      o.dot.remove();
      o.box.remove();
      this.others.delete(by);
    }
    this.placeOthers();
  }

  /** A point of a replayed node (at fractions of its box) in overlay pixels, or null. */
  private onView(id: number, fx: number, fy: number): { x: number; y: number } | null {
    const el = this.replayer ? this.replayer.getMirror().getNode(id) : null;
    if (!el || el.nodeType !== Node.ELEMENT_NODE || !this.replayer) return null;
    const b = (el as Element).getBoundingClientRect();
    const f = this.replayer.iframe.getBoundingClientRect();
    const o = this.overlay.getBoundingClientRect();
    return { x: f.left - o.left + (b.left + fx * b.width) * this.scale, y: f.top - o.top + (b.top + fy * b.height) * this.scale };
  }

  private placeOthers(): void {
    cancelAnimationFrame(this.othersLoop);
    let any = false;
    for (const o of this.others.values()) {
      const p = o.pointer ? this.onView(o.pointer.id, o.pointer.x, o.pointer.y) : null;
      o.dot.hidden = !p;
      if (p) Object.assign(o.dot.style, { left: `${p.x}px`, top: `${p.y}px` });
      const a = o.highlight ? this.onView(o.highlight, 0, 0) : null;
      const z = o.highlight ? this.onView(o.highlight, 1, 1) : null;
      o.box.hidden = !a || !z;
      if (a && z) Object.assign(o.box.style, { left: `${a.x - 4}px`, top: `${a.y - 4}px`, width: `${z.x - a.x + 8}px`, height: `${z.y - a.y + 8}px` });
      any = any || Boolean(p || (a && z));
    }
    if (any) this.othersLoop = requestAnimationFrame(() => this.placeOthers());
  }

  /**
   * Keeps the staff's own highlight on its element, as the customer sees
   * it, through scrolling, layout changes and zoom; hidden when there is
   * none or its element is gone.
   */
  private placeHighlight(): void {
    cancelAnimationFrame(this.highlightLoop);
    const el = this.highlighted && this.replayer ? this.replayer.getMirror().getNode(this.highlighted) : null;
    if (!el || el.nodeType !== Node.ELEMENT_NODE || !this.replayer) {
      this.ownHighlight.hidden = true;
      return;
    }
    const b = (el as Element).getBoundingClientRect();
    const f = this.replayer.iframe.getBoundingClientRect();
    const o = this.overlay.getBoundingClientRect();
    Object.assign(this.ownHighlight.style, {
      left: `${f.left - o.left + (b.left - 4) * this.scale}px`, top: `${f.top - o.top + (b.top - 4) * this.scale}px`,
      width: `${(b.width + 8) * this.scale}px`, height: `${(b.height + 8) * this.scale}px`,
    });
    this.ownHighlight.hidden = false;
    this.ownHighlight.dataset.node = String(this.highlighted);
    this.highlightLoop = requestAnimationFrame(() => this.placeHighlight());
  }
}

interface OtherMarks { name: string; pointer: { id: number; x: number; y: number } | null; highlight: number; dot: HTMLElement; box: HTMLElement }

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
