// Tomoni customer SDK. A site adds one script tag; this file offers
// window.Tomoni: open(), join(code), end(), on(event, fn), and runs the
// capture, the banner and the staff pointer while a session lasts.
import type { Capture } from './capture';
import { detectLang, Lang, texts, Texts } from './i18n';
import { DEFAULT_POLICY, excluded, joinSelectors, PolicyView } from './policy';
import { UI } from './ui';

export type State = 'idle' | 'connecting' | 'live' | 'paused' | 'reconnecting' | 'ended';
export type JoinError = 'invalid_code' | 'busy' | 'network' | 'rate_limited' | 'declined';
export interface JoinOptions {
  /** The site's own confirmation of the staff member's name; by default Tomoni asks in its dialog. */
  confirm?: (staffName: string) => boolean | Promise<boolean>;
}

interface Saved { token: string; session: string; staff: string; policy?: PolicyView }
interface StateDetail { state: State; reason?: string; staff?: string }
type Listener = (d: StateDetail) => void;

const STORAGE_KEY = 'tomoni.session';
const FLUSH_MS = 50;
// Keep each frame well under the server's 4 MiB cap.
const MAX_FRAME = 1 << 20;

// Close codes from the server (internal/protocol).
const CLOSE_ENDED = 4000;
const CLOSE_UNAUTHORIZED = 4001;
const NO_RECONNECT_MAX = 4099;

class JoinFailure extends Error {
  constructor(public code: JoinError) { super(code); }
}

class Tomoni {
  readonly version = '1';
  private base: string;
  private lang: Lang;
  private t: Texts;
  private ui: UI;
  // The recorder lives in sdk-capture.js, loaded when a session starts.
  private capture: Capture | null = null;
  private captureLoad: Promise<typeof Capture> | null = null;
  private ws: WebSocket | null = null;
  private saved: Saved | null = null;
  private state: State = 'idle';
  private reason = '';
  private batch: unknown[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private listeners: Listener[] = [];
  private pointer: { id: number; x: number; y: number } | null = null;
  private highlightId = 0;
  // Why sharing is paused; empty means live. Several can hold at once.
  private pauses = new Set<string>();
  private policy: PolicyView = DEFAULT_POLICY;
  private skObserver: MutationObserver | null = null;
  // Tabs of one origin talk here so that only one of them shares.
  private channel: BroadcastChannel | null = typeof BroadcastChannel === 'function' ? new BroadcastChannel('tomoni') : null;

  constructor(script: HTMLScriptElement | null) {
    const src = script?.src || '';
    // The server's base URL: where sdk.js came from, without the file name.
    this.base = src ? new URL(src, location.href).href.replace(/\/sdk\.js(?:[?#].*)?$/, '') : location.origin;
    this.lang = detectLang(script);
    this.t = texts(this.lang);
    this.ui = new UI(this.t);
    window.addEventListener('scroll', () => this.placeOverlays(), { passive: true, capture: true });
    window.addEventListener('resize', () => this.placeOverlays(), { passive: true });
    window.addEventListener('pagehide', () => this.flush());
    document.addEventListener('click', (e) => this.onLinkClick(e), true);
    // A dead network can leave a socket looking open for a long time: drop
    // it when the browser knows it is offline, and come back the moment it
    // is online again.
    window.addEventListener('offline', () => { if (this.ws) this.ws.close(1000, 'offline'); });
    window.addEventListener('online', () => {
      if (this.saved && !this.ws) {
        this.retries = 0;
        this.connect();
      }
    });
    if (this.channel) this.channel.onmessage = (ev: MessageEvent) => this.onTabMessage(ev.data);
    this.continueSaved();
  }

  /** Another tab asks whether a session is already shared from a tab; the sharing tab answers. */
  private onTabMessage(m: { t?: string; session?: string; nonce?: string }): void {
    if (m?.t === 'who' && this.saved && m.session === this.saved.session && this.state !== 'ended' && this.state !== 'idle') {
      this.channel?.postMessage({ t: 'mine', session: m.session, nonce: m.nonce });
    }
  }

  /** Resolves true when another tab of this origin already shares the session. */
  private sharedElsewhere(session: string): Promise<boolean> {
    const ch = this.channel;
    if (!ch) return Promise.resolve(false);
    const nonce = Math.random().toString(36).slice(2);
    return new Promise((resolve) => {
      const probe = new BroadcastChannel('tomoni');
      const timer = setTimeout(() => { probe.close(); resolve(false); }, 200);
      probe.onmessage = (ev: MessageEvent) => {
        if (ev.data?.t === 'mine' && ev.data.nonce === nonce) {
          clearTimeout(timer);
          probe.close();
          resolve(true);
        }
      };
      probe.postMessage({ t: 'who', session, nonce });
    });
  }

  /**
   * A link to another of the bank's origins carries the session with a
   * one-time hand-off token in the fragment (never sent to any server).
   */
  private onLinkClick(e: MouseEvent): void {
    if (!this.saved || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const target = e.target instanceof Element ? e.target : null;
    const a = target?.closest('a[href]') as HTMLAnchorElement | null;
    if (!a || (a.target && a.target !== '_self')) return;
    let url: URL;
    try { url = new URL(a.href, location.href); } catch { return; }
    if (url.origin === location.origin || !this.policy.site_origins.includes(url.origin)) return;
    e.preventDefault();
    void this.handoffTo(url);
  }

  private async handoffTo(url: URL): Promise<void> {
    try {
      const res = await fetch(`${this.base}/api/handoff`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'omit', mode: 'cors',
        body: JSON.stringify({ token: this.saved?.token }),
      });
      const body = await res.json();
      if (res.ok && typeof body.handoff === 'string') {
        const rest = url.hash.replace(/^#/, '');
        url.hash = `${rest ? `${rest}&` : ''}tomoni-handoff=${body.handoff}`;
      }
    } catch { /* go anyway; the next page is simply not shared */ }
    location.href = url.toString();
  }

  /** Takes a hand-off token out of the URL, leaving the rest of the fragment. */
  private takeHandoff(): string | null {
    const re = /(^#|&)tomoni-handoff=([A-Za-z0-9_-]+)/;
    const m = location.hash.match(re);
    if (!m) return null;
    let rest = location.hash.replace(re, '$1').replace(/^#&/, '#').replace(/&$/, '');
    if (rest === '#') rest = '';
    history.replaceState(history.state, '', location.pathname + location.search + rest);
    return m[2];
  }

  private async redeem(handoff: string): Promise<void> {
    try {
      const res = await fetch(`${this.base}/api/handoff/redeem`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'omit', mode: 'cors',
        body: JSON.stringify({ handoff }),
      });
      const body = await res.json();
      if (!res.ok || !body.token) return; // used or expired: this page is not shared
      this.saved = { token: body.token, session: body.session, staff: body.staff_name || '' };
      this.persist();
      await this.loadPolicy();
      this.connect();
    } catch { /* network: not shared */ }
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
    if (this.state !== 'idle' && this.state !== 'ended') return;
    this.ui.openDialog(async (code) => {
      try {
        await this.join(code);
        return null;
      } catch (e) {
        const c = e instanceof JoinFailure ? e.code : 'network';
        if (c === 'declined') return null;
        return c === 'invalid_code' ? this.t.errInvalid : c === 'busy' ? this.t.errBusy : c === 'rate_limited' ? this.t.errRate : this.t.errNetwork;
      }
    });
  }

  /**
   * Joins with a code (for sites with their own consent UI). The customer
   * then confirms the staff member's name before anything is shared. Rejects
   * with an Error whose message is a JoinError.
   */
  async join(code: string, opts: JoinOptions = {}): Promise<void> {
    if (this.saved) throw new JoinFailure('busy');
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/join`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ code: String(code).trim(), device: deviceClass() }),
        credentials: 'omit',
        mode: 'cors',
      });
    } catch {
      throw new JoinFailure('network');
    }
    let body: { error?: string; session?: string; token?: string; staff_name?: string } = {};
    try { body = await res.json(); } catch { /* handled below */ }
    if (!res.ok || !body.token || !body.session) {
      const err = body.error;
      throw new JoinFailure(err === 'invalid_code' || err === 'busy' || err === 'rate_limited' ? err : res.status === 400 ? 'invalid_code' : 'network');
    }
    const staff = body.staff_name || '';
    let ok = false;
    try {
      ok = opts.confirm ? await opts.confirm(staff) : await this.ui.confirmStaff(staff);
    } catch { ok = false; }
    if (!ok) {
      // Tell the server at once, so the staff sees the refusal and the code is spent.
      void fetch(`${this.base}/api/leave`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: body.token, reason: 'declined' }), credentials: 'omit', mode: 'cors' }).catch(() => undefined);
      throw new JoinFailure('declined');
    }
    this.saved = { token: body.token, session: body.session, staff };
    this.persist();
    await this.loadPolicy();
    this.connect();
  }

  /** Ends the session from the customer's side. */
  end(): void {
    if (!this.saved) return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.flush();
      this.ws.send(JSON.stringify({ t: 'end' }));
    } else {
      // Between connections: tell the server over HTTP, so the staff hears
      // at once rather than after the grace period.
      void fetch(`${this.base}/api/leave`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'omit', mode: 'cors', keepalive: true,
        body: JSON.stringify({ token: this.saved.token }),
      }).catch(() => undefined);
    }
    this.finish('customer');
  }

  /** Pauses sharing for the site's own reasons until resume(). */
  pause(reason = 'site'): void {
    this.setPause(reason === 'secure_input' || reason === 'excluded_page' ? reason : 'site', true);
  }

  /** Ends a pause begun with pause(). */
  resume(): void {
    this.setPause('site', false);
    this.setPause('secure_input', this.softKeyboardOpen());
  }

  private setPause(reason: string, on: boolean): void {
    const had = this.pauses.has(reason);
    if (on === had) return;
    if (on) {
      // Stop first: not one more event may be captured once a pause holds.
      this.capture?.stopNow();
      this.batch = [];
      this.pauses.add(reason);
    } else {
      this.pauses.delete(reason);
    }
    this.applyPause();
  }

  /** The reason shown for a pause: the page rule first, then secure input, then the site's own. */
  private pauseReason(): string {
    for (const r of ['excluded_page', 'secure_input', 'site']) if (this.pauses.has(r)) return r;
    return '';
  }

  /**
   * At load: continue a session begun on an earlier page of this tab, or
   * carried here from another of the bank's origins. A tab that got a copy
   * of the session (the browser duplicates sessionStorage when a tab is
   * duplicated) does not share while the original tab still does.
   */
  private continueSaved(): void {
    const h = this.takeHandoff();
    if (h) {
      void this.redeem(h);
      return;
    }
    let saved: Saved;
    try {
      const raw = sessionStorage.getItem(STORAGE_KEY);
      if (!raw) return;
      saved = JSON.parse(raw) as Saved;
    } catch { return; }
    void this.sharedElsewhere(saved.session).then((elsewhere) => {
      if (elsewhere) {
        try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* ignore */ }
        this.ui.toast(this.t.otherTab, 6000);
        return;
      }
      this.saved = saved;
      void this.loadPolicy().then(() => this.connect());
    });
  }

  private applyPause(): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const reason = this.pauseReason();
    if (reason) {
      this.batch = [];
      this.capture?.stopNow();
      this.ws.send(JSON.stringify({ t: 'status', state: 'paused', reason }));
      this.setState('paused', reason);
    } else if (this.state !== 'live' || !this.capture?.running()) {
      this.ws.send(JSON.stringify({ t: 'status', state: 'live' }));
      this.setState('live');
      this.startCapture();
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
      this.persist();
    }
  }

  private persist(): void {
    try { if (this.saved) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.saved)); } catch { /* private mode */ }
  }

  private checkPage(): void {
    this.setPause('excluded_page', excluded(this.policy, location.href));
  }

  // Checked on every DOM mutation, so built once per policy.
  private skSelector: { policy: PolicyView; sel: string } | null = null;

  private softKeyboardSelector(): string {
    if (this.skSelector?.policy !== this.policy) {
      this.skSelector = { policy: this.policy, sel: joinSelectors(['[data-tomoni-softkeyboard]', ...this.policy.softkeyboard_selectors]) };
    }
    return this.skSelector.sel;
  }

  private softKeyboardOpen(): boolean {
    const sel = this.softKeyboardSelector();
    if (!sel) return false;
    return Array.from(document.querySelectorAll(sel)).some((el) => visible(el));
  }

  /**
   * Watches software keyboards: the moment one shows or is touched, capture
   * stops (inside the same task, so before the next frame is painted); when
   * all are hidden again, sharing resumes with a fresh snapshot.
   */
  private watchSoftKeyboards(): void {
    if (this.skObserver) return;
    const check = () => this.setPause('secure_input', this.softKeyboardOpen());
    this.skObserver = new MutationObserver(check);
    this.skObserver.observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden', 'style', 'class', 'open', 'aria-hidden'] });
    const touch = (e: Event) => {
      const t = e.target;
      const sel = this.softKeyboardSelector();
      if (sel && t instanceof Element && t.closest(sel)) this.setPause('secure_input', true);
    };
    document.addEventListener('pointerdown', touch, true);
    document.addEventListener('focusin', touch, true);
    // Single-page sites change pages without a load.
    const onNav = () => { if (this.saved) this.checkPage(); };
    for (const m of ['pushState', 'replaceState'] as const) {
      const orig = history[m];
      history[m] = function (this: History, ...args: Parameters<History['pushState']>) {
        const r = orig.apply(this, args);
        onNav();
        return r;
      };
    }
    window.addEventListener('popstate', onNav);
    window.addEventListener('hashchange', onNav);
  }

  private connect(): void {
    if (!this.saved) return;
    void this.loadCapture().catch(() => undefined); // fetch the recorder while the socket opens
    clearTimeout(this.retryTimer);
    this.setState(this.retries > 0 ? 'reconnecting' : 'connecting');
    if (navigator.onLine === false) return; // the 'online' event reconnects
    const url = `${this.base.replace(/^http/, 'ws')}/api/customer/ws?token=${encodeURIComponent(this.saved.token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.retries = 0;
      ws.send(JSON.stringify({ t: 'hello', device: deviceClass(), vw: innerWidth, vh: innerHeight }));
      this.watchSoftKeyboards();
      this.pauses.delete('excluded_page');
      if (excluded(this.policy, location.href)) this.pauses.add('excluded_page');
      if (this.softKeyboardOpen()) this.pauses.add('secure_input');
      this.state = 'connecting';
      this.applyPause();
    };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.capture?.stopNow();
      this.batch = [];
      if (ev.code === CLOSE_ENDED || ev.code === CLOSE_UNAUTHORIZED) {
        this.finish(ev.reason || 'ended', false);
        return;
      }
      if (ev.code >= 4000 && ev.code <= NO_RECONNECT_MAX) {
        this.finish(ev.reason || 'closed', false);
        return;
      }
      if (!this.saved) return;
      if (navigator.onLine === false) {
        this.retries++;
        this.setState('reconnecting');
        return; // the 'online' event reconnects
      }
      // Jittered exponential backoff: 0.5 s, 1 s, 2 s … capped at 10 s.
      const delay = Math.min(10000, 500 * 2 ** this.retries) * (0.7 + Math.random() * 0.6);
      this.retries++;
      this.setState('reconnecting');
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
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

  /** Starts capture once the recorder is there, if sharing is still on by then. */
  private startCapture(): void {
    const go = (C: typeof Capture) => {
      if (!this.capture) this.capture = new C();
      if (this.state !== 'live' || this.pauseReason() || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      this.capture.start(this.policy, (e) => {
        this.batch.push(e);
        if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
      });
    };
    this.loadCapture().then(go, () => {
      // Without the recorder nothing can be shared: reconnect and try again.
      this.ws?.close(1000, 'capture unavailable');
    });
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.batch.length) return;
    const events = this.batch;
    this.batch = [];
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.state !== 'live') return;
    this.sendEvents(ws, events);
  }

  private sendEvents(ws: WebSocket, events: unknown[]): void {
    const frame = JSON.stringify({ t: 'events', ct: Date.now(), events });
    if (frame.length <= MAX_FRAME || events.length === 1) {
      ws.send(frame);
      return;
    }
    const half = Math.ceil(events.length / 2);
    this.sendEvents(ws, events.slice(0, half));
    this.sendEvents(ws, events.slice(half));
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let m: { t?: string; id?: number; x?: number; y?: number; state?: string; reason?: string; staff_name?: string };
    try { m = JSON.parse(data); } catch { return; }
    // Staff may only point, highlight and ask for a fresh snapshot. Anything
    // else from the server is a state update; nothing here acts on the page.
    switch (m.t) {
      case 'pointer':
        this.pointer = m.id ? { id: Number(m.id), x: clamp01(m.x), y: clamp01(m.y) } : null;
        this.placeOverlays();
        break;
      case 'highlight':
        this.highlightId = Number(m.id) || 0;
        this.placeOverlays();
        break;
      case 'resync':
        if (this.state === 'live') this.capture?.snapshot();
        break;
      case 'state':
        if (m.staff_name && this.saved) this.saved.staff = m.staff_name;
        if (m.state === 'ended') this.finish(m.reason || 'ended', false);
        break;
      case 'status':
        if (m.state === 'warning') this.ui.toast(this.t.warning, 8000);
        break;
      default:
        break;
    }
  }

  private placeOverlays(): void {
    if (this.state !== 'live') {
      this.ui.hidePointer();
      this.ui.hideHighlight();
      return;
    }
    const p = this.pointer;
    const el = p && this.capture ? elementOf(this.capture.node(p.id)) : null;
    if (p && el) {
      const r = el.getBoundingClientRect();
      this.ui.showPointer(r.left + p.x * r.width, r.top + p.y * r.height);
    } else {
      this.ui.hidePointer();
    }
    const h = this.highlightId && this.capture ? elementOf(this.capture.node(this.highlightId)) : null;
    if (h) this.ui.showHighlight(h.getBoundingClientRect());
    else this.ui.hideHighlight();
  }

  private finish(reason: string, sendClose = true): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.capture?.stopNow();
    this.batch = [];
    this.pointer = null;
    this.highlightId = 0;
    const ws = this.ws;
    this.ws = null;
    if (ws && sendClose) ws.close(1000, 'customer ended');
    else if (ws) ws.close();
    this.saved = null;
    this.pauses.clear();
    try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* ignore */ }
    this.ui.clearAll();
    this.setState('ended', reason);
    this.ui.toast(this.t.ended);
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
    const staff = this.saved?.staff || '';
    const onEnd = () => this.end();
    switch (this.state) {
      case 'live':
        this.ui.showBanner('live', this.t.sharing, staff, onEnd);
        break;
      case 'paused': {
        const text = this.reason === 'secure_input' ? this.t.pausedSecure : this.reason === 'excluded_page' ? this.t.pausedExcluded : this.t.pausedSite;
        this.ui.showBanner('paused', text, staff, onEnd);
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

function clamp01(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0.5;
}

function visible(el: Element): boolean {
  if (!el.isConnected || (el as HTMLElement).hidden) return false;
  const cs = getComputedStyle(el);
  if (cs.display === 'none' || cs.visibility === 'hidden') return false;
  return el.getClientRects().length > 0;
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

declare global {
  interface Window { Tomoni?: Tomoni }
}

if (!window.Tomoni) {
  const script = (document.currentScript as HTMLScriptElement | null) ||
    document.querySelector<HTMLScriptElement>('script[src$="/sdk.js"]');
  window.Tomoni = new Tomoni(script);
  document.dispatchEvent(new CustomEvent('tomoni:ready'));
}
