// Tomoni customer SDK. A site adds one script tag; this file offers
// window.Tomoni: open(), join(code), end(), pause(), resume(), on(), and
// runs the banner and the staff pointer while a session lasts. The socket
// is transport.ts, page-to-page continuity continuity.ts, pauses pauses.ts;
// the recorder (capture.ts) is a separate file loaded when a session starts.
import { CLOSE_REPLACED, CLOSE_SESSION_ENDED, CLOSE_UNAUTHORIZED } from '../shared/closecodes';
import type { Capture } from './capture';
import { crossOriginLink, forget, loadPending, loadSaved, persist, persistPending, Saved, Tabs, takeHandoff, withHandoff } from './continuity';
import { detectLang, Lang, texts, Texts } from './i18n';
import { Pauses, PauseReason } from './pauses';
import { customerFileAllowed, DEFAULT_POLICY, PolicyView } from './policy';
import { Transport } from './transport';
import type { TomoniAPI, TomoniJoinError as JoinError, TomoniJoinOptions as JoinOptions, TomoniState as State, TomoniStateDetail as StateDetail } from './tomoni';
import { UI } from './ui';

type Listener = (d: StateDetail) => void;

const FLUSH_MS = 50;
// Page files read here for the staff view: at most this big (base64 makes
// them a third larger, well under the server's 4 MiB message cap).
const MAX_FILE = 2 << 20;
// Keep each frame well under the server's 4 MiB cap.
const MAX_FRAME = 1 << 20;
// A part of an event too large for one frame, in UTF-16 units: at most
// 3 bytes each, plus JSON escapes, stays under the cap too.
const PART_CHARS = 256 << 10;

class JoinFailure extends Error {
  constructor(public code: JoinError) { super(code); }
}

class Tomoni implements TomoniAPI {
  readonly version = '1';
  private base: string;
  private lang: Lang;
  private t: Texts;
  private ui: UI;
  private transport: Transport;
  private tabs: Tabs;
  private pauses: Pauses;
  // The recorder lives in sdk-capture.js, loaded when a session starts.
  private capture: Capture | null = null;
  private captureLoad: Promise<typeof Capture> | null = null;
  private saved: Saved | null = null;
  private state: State = 'idle';
  private reason = '';
  private batch: unknown[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFlush = 0;
  private listeners: Listener[] = [];
  // Each staff member's marks, by their number on the session.
  private pointers = new Map<number, { id: number; x: number; y: number; name: string }>();
  private highlights = new Map<number, number>();
  // Who is on the session besides the staff member in charge.
  private presenters: { name: string; colour: number }[] = [];
  private watchers: string[] = [];
  // The hand-over being asked about, as "kind name", while its dialog is open.
  private handoverAsked = '';
  private policy: PolicyView = DEFAULT_POLICY;
  // The token of a join request waiting for the staff's admission.
  private pendingToken = '';

  constructor(script: HTMLScriptElement | null) {
    const src = script?.src || '';
    // The server's base URL: where sdk.js came from, without the file name.
    this.base = src ? new URL(src, location.href).href.replace(/\/sdk\.js(?:[?#].*)?$/, '') : location.origin;
    this.lang = detectLang(script);
    this.t = texts(this.lang);
    this.ui = new UI(this.t);
    this.tabs = new Tabs(() => (this.saved && this.state !== 'ended' && this.state !== 'idle' ? this.saved.session : null));
    this.pauses = new Pauses((_reason, added) => {
      if (added) {
        // Stop first: not one more event may be captured once a pause holds.
        this.capture?.stopNow();
        this.batch = [];
      }
      this.applyPause();
    });
    this.transport = new Transport(this.base, {
      open: () => this.onOpen(),
      message: (data) => this.onMessage(data),
      retrying: () => {
        this.capture?.stopNow();
        this.batch = [];
        this.setState('reconnecting');
      },
      closed: (code, name, reason) => this.onClosed(code, name, reason),
    });
    window.addEventListener('scroll', () => this.placeOverlays(), { passive: true, capture: true });
    // A phone's pinch-zoom shows the customer part of the page: staff see
    // which part, and can follow it.
    window.visualViewport?.addEventListener('resize', () => this.viewportChanged(), { passive: true });
    window.visualViewport?.addEventListener('scroll', () => this.viewportChanged(), { passive: true });
    window.addEventListener('resize', () => this.placeOverlays(), { passive: true });
    window.addEventListener('pagehide', () => this.flush());
    document.addEventListener('click', (e) => this.onLinkClick(e), true);
    this.continueSaved();
  }

  /**
   * A link to another of the bank's origins carries the session with a
   * one-time hand-off token in the fragment (never sent to any server).
   */
  private onLinkClick(e: MouseEvent): void {
    if (!this.saved) return;
    const url = crossOriginLink(e, this.policy.site_origins);
    if (!url) return;
    e.preventDefault();
    void this.handoffTo(url);
  }

  private async handoffTo(url: URL): Promise<void> {
    try {
      const body = await this.post('/api/handoff', { token: this.saved?.token });
      if (typeof body.handoff === 'string') withHandoff(url, body.handoff);
    } catch { /* go anyway; the next page is simply not shared */ }
    location.href = url.toString();
  }

  private async redeem(handoff: string): Promise<void> {
    try {
      const body = await this.post('/api/handoff/redeem', { handoff });
      if (typeof body.token !== 'string' || typeof body.session !== 'string') return;
      this.saved = { token: body.token, session: body.session, staff: typeof body.staff_name === 'string' ? body.staff_name : '' };
      persist(this.saved);
      await this.loadPolicy();
      this.connect();
    } catch { /* used, expired or no network: this page is not shared */ }
  }

  /** POSTs JSON to the server; rejects on a network error or a refusal. */
  private async post(path: string, body: object, keepalive = false): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'omit', mode: 'cors', keepalive,
      body: JSON.stringify(body),
    });
    const out = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw Object.assign(new Error(String(out.error || res.status)), { status: res.status, code: out.error });
    return out;
  }

  /** Current state. */
  get current(): StateDetail {
    return { state: this.state, reason: this.reason || undefined, staff: this.saved?.staff };
  }

  /** Subscribe to state changes; returns an unsubscribe function. */
  on(event: 'state', fn: Listener): () => void {
    if (event !== 'state') throw new Error(`unknown event ${String(event)}`);
    this.listeners.push(fn);
    return () => { this.listeners = this.listeners.filter((l) => l !== fn); };
  }

  setLang(lang: Lang): void {
    this.lang = lang;
    this.t = texts(lang);
    this.ui.t = this.t;
    this.render();
  }

  /** Opens the consent and code dialog. */
  open(): void {
    if ((this.state !== 'idle' && this.state !== 'ended') || this.pendingToken) return;
    this.ui.openDialog(async (code) => {
      try {
        await this.join(code);
        return null;
      } catch (e) {
        const c = e instanceof JoinFailure ? e.code : 'network';
        if (c === 'declined' || c === 'cancelled') return null;
        const text = this.joinErrorText(c);
        // Past the code step the code dialog has gone: say it in a dialog of its own.
        if (c === 'not_admitted' || c === 'expired') this.ui.showMessage(text, c);
        return { code: c, text };
      }
    });
  }

  private joinErrorText(c: JoinError): string {
    switch (c) {
      case 'invalid_code': return this.t.errInvalid;
      case 'busy': return this.t.errBusy;
      case 'rate_limited': return this.t.errRate;
      case 'too_many_requests': return this.t.errCrowded;
      case 'not_admitted': return this.t.errNotAdmitted;
      case 'expired': return this.t.errGone;
      default: return this.t.errNetwork;
    }
  }

  /**
   * Joins with a code (for sites with their own consent UI). The code buys
   * a join request: the customer reads its two-digit check number to staff,
   * who admit it; only then is the staff member's name shown, and the
   * customer confirms it before anything is shared. Rejects with an Error
   * whose message is a JoinError.
   */
  async join(code: string, opts: JoinOptions = {}): Promise<void> {
    if (this.saved || this.pendingToken) throw new JoinFailure('busy');
    let body: Record<string, unknown>;
    try {
      body = await this.post('/api/join', { code: String(code).trim(), device: deviceClass() });
    } catch (e) {
      const err = (e as { code?: unknown; status?: number }).code;
      const status = (e as { status?: number }).status;
      if (status === undefined) throw new JoinFailure('network');
      throw new JoinFailure(err === 'invalid_code' || err === 'busy' || err === 'rate_limited' || err === 'too_many_requests' ? err : status === 400 ? 'invalid_code' : 'network');
    }
    if (typeof body.token !== 'string' || typeof body.check !== 'string') throw new JoinFailure('network');
    await this.waitAndConfirm(body.token, body.check, opts);
  }

  /**
   * Waits for the staff's admission of the request (token), then has the
   * customer confirm the staff name, then shares. The request is kept in the
   * tab, so a page change while waiting does not lose it.
   */
  private async waitAndConfirm(token: string, check: string, opts: JoinOptions): Promise<void> {
    this.pendingToken = token;
    persistPending({ token, check });
    this.setState('waiting');
    let admitted: { session: string; staff: string };
    try {
      admitted = await this.awaitAdmission(token, check, opts);
    } catch (e) {
      if (this.pendingToken === token) {
        this.pendingToken = '';
        persistPending(null);
        this.ui.closeDialog();
        this.setState('idle');
      }
      throw e;
    }
    this.pendingToken = '';
    persistPending(null);
    const staff = admitted.staff;
    let ok = false;
    try {
      ok = opts.confirm ? await opts.confirm(staff) : await this.ui.confirmStaff(staff);
    } catch { ok = false; }
    if (!ok) {
      // Tell the server at once, so the staff sees the refusal and the code is spent.
      void this.post('/api/leave', { token, reason: 'declined' }).catch(() => undefined);
      this.setState('idle');
      throw new JoinFailure('declined');
    }
    this.saved = { token, session: admitted.session, staff };
    persist(this.saved);
    await this.loadPolicy();
    this.connect();
  }

  /** A join request made on an earlier page of this tab still waits: wait on here. */
  private resumePending(): boolean {
    const p = loadPending();
    if (!p) return false;
    void this.waitAndConfirm(p.token, p.check, {}).catch((e) => {
      const c = e instanceof JoinFailure ? e.code : 'network';
      if (c !== 'declined' && c !== 'cancelled') this.ui.showMessage(this.joinErrorText(c), c);
    });
    return true;
  }

  /**
   * Shows the check number (in Tomoni's dialog, or through opts.waiting)
   * and polls until staff admit or turn away the request. Each poll is held
   * open by the server until something changes; a network error is retried
   * a few times, since a request whose page stops asking lapses.
   */
  private async awaitAdmission(token: string, check: string, opts: JoinOptions): Promise<{ session: string; staff: string }> {
    let cancelled = false;
    const cancel = () => {
      cancelled = true;
      void this.post('/api/leave', { token }).catch(() => undefined);
    };
    const show = (c: string) => {
      if (opts.waiting) {
        try { opts.waiting(c); } catch { /* the site's callback must not break the join */ }
      } else {
        this.ui.waitForStaff(c, cancel);
      }
    };
    show(check);
    let failures = 0;
    for (;;) {
      if (cancelled || this.pendingToken !== token) throw new JoinFailure('cancelled');
      let res: Record<string, unknown>;
      const asked = Date.now();
      try {
        res = await this.post('/api/join/wait', { token });
        failures = 0;
      } catch (e) {
        if (cancelled || this.pendingToken !== token) throw new JoinFailure('cancelled');
        if ((e as { status?: number }).status === 401) throw new JoinFailure('expired');
        if (++failures > 5) throw new JoinFailure('network');
        await new Promise((r) => setTimeout(r, 1000 * failures));
        continue;
      }
      if (cancelled || this.pendingToken !== token) throw new JoinFailure('cancelled');
      switch (res.status) {
        case 'pending':
          if (typeof res.check === 'string' && res.check !== check) { check = res.check; show(check); }
          // The server holds a poll open until something changes; one that
          // came back at once (too many polls on this request) waits a little.
          if (Date.now() - asked < 1000) await new Promise((r) => setTimeout(r, 1000));
          break;
        case 'admitted':
          if (typeof res.session !== 'string') throw new JoinFailure('network');
          return { session: res.session, staff: typeof res.staff_name === 'string' ? res.staff_name : '' };
        case 'declined':
          throw new JoinFailure('not_admitted');
        default:
          throw new JoinFailure('expired');
      }
    }
  }

  /** Ends the session from the customer's side (or withdraws a join request). */
  end(): void {
    if (this.pendingToken) {
      void this.post('/api/leave', { token: this.pendingToken }, true).catch(() => undefined);
      this.pendingToken = '';
      persistPending(null);
      this.ui.closeDialog();
      this.setState('idle');
      return;
    }
    if (!this.saved) return;
    if (this.transport.isOpen()) {
      this.flush();
      this.transport.send({ t: 'end' });
    } else {
      // Between connections: tell the server over HTTP, so the staff hears
      // at once rather than after the grace period.
      void this.post('/api/leave', { token: this.saved.token }, true).catch(() => undefined);
    }
    this.finish('customer');
  }

  /** Pauses sharing for the site's own reasons until resume(). */
  pause(reason = 'site'): void {
    this.pauses.set(reason === 'secure_input' || reason === 'excluded_page' || reason === 'too_large' ? (reason as PauseReason) : 'site', true);
  }

  /** Ends a pause begun with pause(). */
  resume(): void {
    this.pauses.set('site', false);
    this.pauses.set('secure_input', this.pauses.softKeyboardOpen());
  }

  /**
   * At load: continue a session begun on an earlier page of this tab, or
   * carried here from another of the bank's origins. A tab that got a copy
   * of the session (the browser duplicates sessionStorage when a tab is
   * duplicated) does not share while the original tab still does.
   */
  private continueSaved(): void {
    const h = takeHandoff();
    if (h) {
      void this.redeem(h);
      return;
    }
    const saved = loadSaved();
    if (!saved) {
      this.resumePending();
      return;
    }
    void this.tabs.sharedElsewhere(saved.session).then((elsewhere) => {
      if (elsewhere) {
        forget();
        this.ui.toast(this.t.otherTab, 6000, 'other_tab');
        return;
      }
      this.saved = saved;
      void this.loadPolicy().then(() => this.connect());
    });
  }

  private applyPause(): void {
    if (!this.transport.isOpen()) return;
    const reason = this.pauses.reason;
    if (reason) {
      this.batch = [];
      this.capture?.stopNow();
      this.transport.send({ t: 'status', state: 'paused', reason });
      this.setState('paused', reason);
    } else if (this.state !== 'live' || !this.capture?.running()) {
      this.transport.send({ t: 'status', state: 'live' });
      this.setState('live');
      this.startCapture();
      this.sendViewport();
    }
  }

  /** Loads the site policy once per tab session; until then the defaults hold. */
  private async loadPolicy(): Promise<void> {
    if (this.saved?.policy) {
      this.policy = this.saved.policy;
      return;
    }
    try {
      const res = await fetch(`${this.base}/api/policy`, { credentials: 'omit', mode: 'cors' });
      if (res.ok) this.policy = { ...DEFAULT_POLICY, ...(await res.json()) } as PolicyView;
    } catch { /* keep the defaults: everything is masked anyway */ }
    if (this.saved) {
      this.saved.policy = this.policy;
      persist(this.saved);
    }
  }

  private connect(): void {
    if (!this.saved) return;
    void this.loadCapture().catch(() => undefined); // fetch the recorder while the socket opens
    this.setState(this.transport.retrying ? 'reconnecting' : 'connecting');
    this.transport.start(this.saved.token);
  }

  private onOpen(): void {
    this.transport.send({ t: 'hello', device: deviceClass(), vw: innerWidth, vh: innerHeight });
    this.pauses.watch(this.policy);
    this.pauses.reset();
    this.state = 'connecting';
    this.applyPause();
  }

  /** The server closed the socket for good. */
  private onClosed(code: number, name: string, reason: string): void {
    this.capture?.stopNow();
    this.batch = [];
    if (code === CLOSE_SESSION_ENDED || code === CLOSE_UNAUTHORIZED) {
      this.finish(reason || 'ended', false);
      return;
    }
    if (code === CLOSE_REPLACED) {
      // A newer page of this tab took the session over; it keeps the saved
      // token, and this page simply stops.
      this.stopHere('replaced');
      return;
    }
    // The server refused what this page sent (too large, malformed, too
    // fast). Trying again would fail the same way: end the session and say so.
    if (this.saved) void this.post('/api/leave', { token: this.saved.token, reason: 'error' }, true).catch(() => undefined);
    this.finish(name, false, this.t.endedError);
  }

  /** Loads the recorder once; a failed load may be tried again. */
  private loadCapture(): Promise<typeof Capture> {
    if (!this.captureLoad) {
      this.captureLoad = new Promise((resolve, reject) => {
        if (window.__tomoniCapture) {
          resolve(window.__tomoniCapture);
          return;
        }
        const s = document.createElement('script');
        s.src = `${this.base}/sdk-capture.js`;
        s.async = true;
        s.onload = () => (window.__tomoniCapture ? resolve(window.__tomoniCapture) : reject(new Error('capture missing')));
        s.onerror = () => { this.captureLoad = null; reject(new Error('capture failed to load')); };
        (document.head || document.documentElement).appendChild(s);
      });
    }
    return this.captureLoad;
  }

  private viewportTimer: ReturnType<typeof setTimeout> | undefined;

  private viewportChanged(): void {
    this.placeOverlays();
    if (this.viewportTimer !== undefined) return;
    this.viewportTimer = setTimeout(() => { this.viewportTimer = undefined; this.sendViewport(); }, 100);
  }

  /** Tells staff which part of the page the customer sees (the visual viewport). */
  private sendViewport(): void {
    const v = window.visualViewport;
    if (!v || this.state !== 'live' || this.pauses.reason) return;
    const r = (n: number) => Math.round(n * 100) / 100;
    this.transport.send({ t: 'viewport', x: r(Math.max(0, v.offsetLeft)), y: r(Math.max(0, v.offsetTop)), w: r(v.width), h: r(v.height), s: r(v.scale) });
  }

  /** Starts capture once the recorder is there, if sharing is still on by then. */
  private startCapture(): void {
    const go = (C: typeof Capture) => {
      if (!this.capture) this.capture = new C();
      if (this.state !== 'live' || this.pauses.reason || !this.transport.isOpen()) return;
      this.capture.start(this.policy, (e) => {
        this.batch.push(e);
        // The first change after a quiet spell goes at once (with whatever
        // the same task emits); later ones wait for the next 50 ms slot.
        if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => this.flush(), this.lastFlush + FLUSH_MS - Date.now());
      });
    };
    this.loadCapture().then(go, () => {
      // Without the recorder nothing can be shared: reconnect and try again.
      this.transport.bounce();
    });
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.lastFlush = Date.now();
    if (!this.batch.length) return;
    const events = this.batch;
    this.batch = [];
    if (!this.transport.isOpen() || this.state !== 'live') return;
    this.sendEvents(events);
  }

  /**
   * Sends events in frames under the server's cap. Each event is encoded
   * once: a large page's snapshot is a megabyte or more of JSON, and every
   * extra pass over it is main-thread time the customer feels.
   */
  private sendEvents(events: unknown[]): void {
    // At most 3 bytes a UTF-16 unit: a frame this long is within the server's cap.
    const cap = this.policy.max_message_bytes || 4 << 20;
    const max = Math.min(MAX_FRAME, Math.floor(cap / 3));
    const head = '{"t":"events","ct":' + Date.now() + ',"events":[';
    let group: string[] = [];
    let size = 0;
    const out = () => {
      if (group.length) this.transport.send(head + group.join(',') + ']}');
      group = [];
      size = head.length + 2;
    };
    out();
    for (const e of events) {
      const json = JSON.stringify(e);
      if (size + json.length + 1 > max) out();
      if (size + json.length > max) {
        // One event too large for a frame (a long statement's snapshot).
        if (!this.sendParts(head + json + ']}', cap)) return;
        continue;
      }
      group.push(json);
      size += json.length + 1;
    }
    out();
  }

  /**
   * Sends one oversized events frame in parts, unless the whole is more
   * than the server takes; then this page is not shared, both sides are
   * told why, and it returns false.
   */
  private sendParts(frame: string, cap: number): boolean {
    const limit = this.policy.max_page_bytes || 32 << 20;
    if (frame.length * 3 > limit && new TextEncoder().encode(frame).length > limit) {
      this.batch = [];
      this.pauses.set('too_large', true);
      return false;
    }
    // Escaped inside a JSON string a part can double: a sixth of the cap.
    const part = Math.min(PART_CHARS, Math.floor(cap / 6));
    for (let seq = 0, at = 0; at < frame.length; seq++) {
      let end = Math.min(frame.length, at + part);
      // Never between the two halves of a character outside the BMP.
      const c = frame.charCodeAt(end - 1);
      if (end < frame.length && c >= 0xd800 && c <= 0xdbff) end--;
      this.transport.send({ t: 'part', seq, last: end === frame.length, part: frame.slice(at, end) });
      at = end;
    }
    return true;
  }

  private onMessage(data: string): void {
    let m: {
      t?: string; id?: number; x?: number; y?: number; state?: string; reason?: string; staff_name?: string; url?: string; kind?: string; pts?: unknown;
      by?: number; name?: string; presenters?: unknown; watchers?: unknown; handover?: { name?: string; kind?: string };
    };
    try { m = JSON.parse(data); } catch { return; }
    // Staff may only point, highlight, draw over the page and ask for a
    // fresh snapshot. Anything else from the server is a state update;
    // nothing here acts on the page.
    switch (m.t) {
      case 'stroke':
        this.drawStroke(m.kind === 'laser' ? 'laser' : 'pen', Array.isArray(m.pts) ? m.pts : [], byOf(m.by));
        break;
      case 'pointer': {
        const by = byOf(m.by);
        if (m.id) this.pointers.set(by, { id: Number(m.id), x: clamp01(m.x), y: clamp01(m.y), name: typeof m.name === 'string' ? m.name : '' });
        else this.pointers.delete(by);
        this.placeOverlays();
        break;
      }
      case 'highlight': {
        const by = byOf(m.by);
        if (Number(m.id)) this.highlights.set(by, Number(m.id));
        else this.highlights.delete(by);
        this.placeOverlays();
        break;
      }
      case 'resync':
        if (this.state === 'live') this.capture?.snapshot();
        break;
      case 'file_request':
        if (typeof m.id === 'number' && typeof m.url === 'string') void this.sendFile(m.id, m.url);
        break;
      case 'state':
        if (m.state === 'ended') {
          this.finish(m.reason || 'ended', false);
          break;
        }
        this.onPeople(m.staff_name || '', m.presenters, m.watchers, m.handover);
        break;
      case 'status':
        if (m.state === 'warning') this.ui.toast(this.t.warning, 8000, 'warning');
        break;
      default:
        break;
    }
  }

  /**
   * Follows who is on the session: the staff member in charge (a change is
   * told), who else points, who watches, and a hand-over waiting for this
   * customer's answer, asked once per page.
   */
  private onPeople(staff: string, presenters: unknown, watchers: unknown, handover?: { name?: string; kind?: string }): void {
    const was = this.saved?.staff || '';
    if (staff && this.saved && staff !== was) {
      this.saved.staff = staff;
      persist(this.saved);
      if (was) this.ui.toast(`${this.t.staffChanged}: ${staff}`, 6000, 'staff_changed');
    }
    this.presenters = Array.isArray(presenters)
      ? presenters.filter((p): p is { name: string; colour: number } => typeof p?.name === 'string' && typeof p?.colour === 'number') : [];
    const before = this.watchers;
    this.watchers = Array.isArray(watchers) ? watchers.filter((w): w is string => typeof w === 'string') : [];
    const joined = this.watchers.filter((w) => !before.includes(w));
    if (joined.length && this.state === 'live') this.ui.toast(`${this.t.watcherJoined}: ${joined.join('・')}`, 6000, 'watcher');
    // Marks of staff who are no longer on the session go.
    const on = new Set(this.presenters.map((p) => p.colour));
    for (const by of [...this.pointers.keys()]) if (!on.has(by)) this.pointers.delete(by);
    for (const by of [...this.highlights.keys()]) if (!on.has(by)) this.highlights.delete(by);
    const ask = handover?.name ? `${handover.kind} ${handover.name}` : '';
    if (ask && ask !== this.handoverAsked) {
      this.handoverAsked = ask;
      void this.ui.confirmHandover(handover?.name || '', handover?.kind || '').then((accept) => {
        if (this.handoverAsked !== ask) return;
        this.transport.send({ t: 'handover', accept });
      });
    } else if (!ask && this.handoverAsked) {
      // Withdrawn, lapsed or answered elsewhere: the question goes.
      this.handoverAsked = '';
      if (this.ui.askingHandover()) this.ui.closeDialog();
    }
    this.render();
  }

  /**
   * Reads a page file the server could not fetch itself (behind this
   * customer's cookies, on an intranet, a blob: URL) and sends it for the
   * staff view. Only files of this page's origin or the bank's other
   * origins, never while paused, never under the policy's no_customer_files.
   */
  private async sendFile(id: number, url: string): Promise<void> {
    const answer = (type?: string, data?: string) => this.transport.send(data === undefined ? { t: 'file', id } : { t: 'file', id, type, data });
    const sharing = () => this.state === 'live' && !this.pauses.reason;
    let u: URL;
    try { u = new URL(url, location.href); } catch { answer(); return; }
    const blob = u.protocol === 'blob:';
    const ours = blob ? url.startsWith(`blob:${location.origin}/`) : u.origin === location.origin || this.policy.site_origins.includes(u.origin);
    if (!sharing() || !ours || !customerFileAllowed(this.policy, url)) { answer(); return; }
    try {
      const res = await fetch(url, { credentials: 'same-origin', cache: 'force-cache' });
      if (!res.ok) { answer(); return; }
      const body = await res.blob();
      if (body.size > MAX_FILE || !sharing()) { answer(); return; }
      const data = await base64Of(body);
      if (!sharing()) { answer(); return; }
      answer(res.headers.get('Content-Type') || body.type, data);
    } catch {
      answer();
    }
  }

  /**
   * Draws a staff stroke over the page, each point on its node as the
   * customer's page lays it out now; it fades by itself. Nothing of it
   * touches the page: it lives in Tomoni's own overlay.
   */
  private drawStroke(kind: 'laser' | 'pen', pts: unknown[], by: number): void {
    if (this.state !== 'live' || !this.capture) return;
    const out: { x: number; y: number }[] = [];
    for (const p of pts.slice(0, 64)) {
      if (!Array.isArray(p) || p.length !== 3) continue;
      const el = elementOf(this.capture.node(Number(p[0])));
      if (!el) continue;
      const r = el.getBoundingClientRect();
      out.push({ x: r.left + clamp01(p[1]) * r.width, y: r.top + clamp01(p[2]) * r.height });
    }
    if (out.length) this.ui.drawStroke(out, kind, by);
  }

  private placeOverlays(): void {
    if (this.state !== 'live') {
      this.ui.hidePointer();
      this.ui.hideHighlight();
      return;
    }
    // Names go on the circles once more than one staff member may point.
    const named = this.presenters.length > 1;
    const bys = new Set([...this.pointers.keys(), ...this.highlights.keys()]);
    this.ui.keepOnly(bys);
    for (const by of bys) {
      const p = this.pointers.get(by);
      const el = p && this.capture ? elementOf(this.capture.node(p.id)) : null;
      if (p && el) {
        const r = el.getBoundingClientRect();
        this.ui.showPointer(by, r.left + p.x * r.width, r.top + p.y * r.height, p.name, named);
      } else {
        this.ui.hidePointer(by);
      }
      const hid = this.highlights.get(by);
      const h = hid && this.capture ? elementOf(this.capture.node(hid)) : null;
      if (h) this.ui.showHighlight(by, h.getBoundingClientRect());
      else this.ui.hideHighlight(by);
    }
  }

  /** Stops everything this page does for the session, keeping the saved token. */
  private stopHere(reason: string, sendClose = false): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.capture?.stopNow();
    this.batch = [];
    this.pointers.clear();
    this.highlights.clear();
    this.presenters = [];
    this.watchers = [];
    this.handoverAsked = '';
    this.transport.stop(sendClose ? 1000 : undefined, sendClose ? 'customer ended' : undefined);
    this.pauses.unwatch();
    this.saved = null;
    this.ui.clearAll();
    this.setState('ended', reason);
  }

  /** Ends the session on this page and forgets it, so no later page continues it. */
  private finish(reason: string, sendClose = true, message = this.endedText(reason)): void {
    this.stopHere(reason, sendClose);
    forget();
    const error = message === this.t.endedError;
    // data-kind says how it ended: ended (normally), error, or the end reason.
    this.ui.toast(message, error || message !== this.t.ended ? 10000 : 4000, error ? 'error' : reason === 'customer' || message === this.t.ended ? 'ended' : reason);
  }

  /** What the customer reads when the session ends: who or what ended it. */
  private endedText(reason: string): string {
    return this.t.endedBy[reason] || this.t.ended;
  }

  private setState(s: State, reason = ''): void {
    this.state = s;
    this.reason = reason;
    this.render();
    const d = this.current;
    for (const l of this.listeners) {
      try { l(d); } catch { /* a site's listener must not break sharing */ }
    }
    document.dispatchEvent(new CustomEvent('tomoni:state', { detail: d }));
  }

  private render(): void {
    // Everyone who may point is named, the staff member in charge first.
    const staff = this.presenters.length > 1 ? this.presenters.map((p) => p.name).join('・') : this.saved?.staff || '';
    const onEnd = () => this.end();
    switch (this.state) {
      case 'live':
        this.ui.showBanner('live', this.t.sharing, staff, onEnd, this.watchers);
        break;
      case 'paused': {
        // A phone's banner must not cover the keypad it is pausing for: short texts there.
        const narrow = typeof matchMedia === 'function' && matchMedia('(max-width: 480px)').matches;
        const text = this.reason === 'secure_input' ? (narrow ? this.t.pausedSecureShort : this.t.pausedSecure)
          : this.reason === 'excluded_page' ? this.t.pausedExcluded : this.reason === 'too_large' ? this.t.pausedTooLarge : this.t.pausedSite;
        this.ui.showBanner('paused', text, staff, onEnd, narrow ? [] : this.watchers);
        break;
      }
      case 'connecting':
      case 'reconnecting':
        this.ui.showBanner('reconnecting', this.state === 'connecting' ? this.t.connecting : this.t.reconnecting, staff, onEnd);
        break;
      default:
        this.ui.hideBanner();
    }
    this.placeOverlays();
  }

  /** Test and support hook: the pointer's centre in viewport pixels, or null. */
  pointerPosition(): { x: number; y: number } | null {
    return this.ui.pointerCentre();
  }
}

function base64Of(b: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(b);
  });
}

/** A staff member's number on the session, as the server stamped it. */
function byOf(v: unknown): number {
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n < 1000 ? n : 0;
}

function clamp01(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0.5;
}

function elementOf(n: Node | null): Element | null {
  if (!n) return null;
  if (n.nodeType === Node.ELEMENT_NODE) return n as Element;
  return n.parentElement;
}

function deviceClass(): 'phone' | 'tablet' | 'pc' {
  const coarse = typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches;
  const short = Math.min(screen.width, screen.height);
  if (coarse) return short < 600 ? 'phone' : 'tablet';
  return innerWidth < 600 ? 'phone' : 'pc';
}

if (!window.Tomoni) {
  const script = (document.currentScript as HTMLScriptElement | null) ||
    document.querySelector<HTMLScriptElement>('script[src$="/sdk.js"]');
  window.Tomoni = new Tomoni(script);
  document.dispatchEvent(new CustomEvent('tomoni:ready'));
}
