// Tomoni staff console: login, sessions, and the live view of one session.
import 'rrweb/dist/style.css';
import './style.css';
import { API, APIError, Colleague, Handover, JoinRequest, Me, Member, SessionInfo } from './api';
import { Lang, texts, Texts } from './i18n';
import { LiveView, ViewInfo } from './view';
import { AdminViews } from './admin';
import { colourOf } from '../shared/palette';
import { canInflate, Inflater, STREAM_PROTOCOL } from './stream';
import { backoff, CLOSE_HANDED_OVER, CLOSE_SESSION_ENDED, closeName, reconnects, STABLE_MS } from '../shared/closecodes';

const api = new API();
let lang: Lang = (localStorage.getItem('tomoni.lang') as Lang) || (navigator.language.toLowerCase().startsWith('en') ? 'en' : 'ja');
let t: Texts = texts(lang);
let me: Me | null = null;
let sessions: SessionInfo[] = [];
let current: Current | null = null;
let listTimer: ReturnType<typeof setInterval> | undefined;
// Whether consoles ask for the compressed stream (every browser the staff use
// can; one that cannot gets plain text frames).
const inflates = canInflate();
// The longest a socket's close waits for the messages before it to be inflated.
const CLOSE_WAIT_MS = 2000;

const app = document.getElementById('app') as HTMLElement;
const admin = new AdminViews(api, h, () => t, () => (lang === 'ja' ? 'ja-JP' : 'en-GB'));

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
}

function setLang(l: Lang): void {
  lang = l;
  t = texts(l);
  localStorage.setItem('tomoni.lang', l);
  document.documentElement.lang = l;
  render();
}

async function start(): Promise<void> {
  document.documentElement.lang = lang;
  try {
    me = await api.me();
  } catch {
    me = null;
  }
  render();
}

function render(): void {
  document.title = t.appTitle;
  if (!me) return renderLogin();
  renderDashboard();
}

function header(): HTMLElement {
  const langBtn = h('button', { class: 'link', 'data-testid': 'lang' }, t.language);
  langBtn.onclick = () => setLang(lang === 'ja' ? 'en' : 'ja');
  const right = h('div', { class: 'right' }, langBtn);
  if (me) {
    const out = h('button', { class: 'link', 'data-testid': 'logout' }, t.logout);
    out.onclick = async () => {
      await api.logout().catch(() => undefined);
      current?.close();
      current = null;
      me = null;
      render();
    };
    right.prepend(h('span', { class: 'who' }, me.display_name));
    right.append(out);
  }
  return h('header', {}, h('h1', {}, t.appTitle), right);
}

function renderLogin(): void {
  clearInterval(listTimer);
  const user = h('input', { id: 'login-username', autocomplete: 'username', required: '' });
  const pass = h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password', required: '' });
  const err = h('div', { class: 'error', role: 'alert', id: 'login-error' });
  const btn = h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, t.login);
  const form = h('form', { class: 'login' },
    h('label', {}, t.username, user), h('label', {}, t.password, pass), err, btn);
  form.onsubmit = async (e) => {
    e.preventDefault();
    btn.disabled = true;
    err.textContent = '';
    try {
      me = await api.login(user.value, pass.value);
      render();
    } catch (x) {
      err.textContent = x instanceof APIError && x.code === 'rate_limited' ? t.loginRate : t.loginFailed;
      btn.disabled = false;
    }
  };
  app.replaceChildren(header(), h('main', { class: 'center' }, form));
  user.focus();
}

function renderDashboard(): void {
  const newBtn = h('button', { class: 'primary', id: 'new-session' }, t.newSession);
  const err = h('div', { class: 'error', role: 'alert', id: 'dashboard-error' });
  newBtn.onclick = async () => {
    err.textContent = '';
    delete err.dataset.code;
    try {
      const s = await api.create();
      await refreshList();
      openSession(s);
    } catch (x) {
      err.dataset.code = x instanceof APIError ? x.code : 'network';
      // The server's message is English: the console says it in the staff's language.
      err.textContent = (x instanceof APIError && t.createErrors[x.code]) || t.error;
    }
  };
  const list = h('ul', { class: 'sessions', id: 'session-list' });
  const side = h('aside', {}, newBtn, err, h('h2', {}, t.sessions), list);
  if (me?.role === 'admin') {
    const panelOf = () => document.getElementById('panel');
    const auditBtn = h('button', { class: 'link audit', id: 'audit-button' }, t.audit);
    auditBtn.onclick = () => { const p = panelOf(); if (p) void admin.audit(p); };
    const accountsBtn = h('button', { class: 'link audit', id: 'accounts-button' }, t.accounts);
    accountsBtn.onclick = () => { const p = panelOf(); if (p) void admin.accounts(p); };
    side.append(auditBtn, accountsBtn);
  }
  const panel = h('section', { class: 'panel', id: 'panel' });
  app.replaceChildren(header(), h('main', { class: 'dash' }, side, panel));
  renderList();
  if (current) current.mount(panel);
  clearInterval(listTimer);
  listTimer = setInterval(() => void refreshList(), 3000);
  void refreshList();
}

async function refreshList(): Promise<void> {
  try {
    sessions = await api.sessions();
    const mine = current && sessions.find((x) => x.id === current?.id);
    if (current && mine) current.accessChanged(mine.access);
  } catch (x) {
    if (x instanceof APIError && x.status === 401) {
      me = null;
      render();
    }
    return;
  }
  renderList();
}

function renderList(): void {
  // A join request must not go unseen while the staff look at another tab.
  const asking = sessions.reduce((n, s) => n + (s.state === 'waiting' ? s.requests?.length || 0 : 0), 0);
  document.title = asking ? `(${asking}) ${t.requestsTitle} — ${t.appTitle}` : t.appTitle;
  const list = document.getElementById('session-list');
  if (!list) return;
  if (!sessions.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t.noSessions));
    return;
  }
  list.replaceChildren(...sessions.map((s) => {
    const label = s.state === 'ended' ? (t.reasons[s.reason || ''] || t.state.ended)
      : s.state === 'paused' ? (t.paused[s.reason || ''] || t.state.paused)
        // "Live" only once the customer's page is connected and sharing.
        : s.state === 'live' && !s.customer_seen ? t.listConfirming
          : s.state === 'live' && !s.customer_connected ? t.listDisconnected
            : t.state[s.state] || s.state;
    const cls = s.state === 'live' && (!s.customer_seen || !s.customer_connected) ? 's-pending' : `s-${s.state}`;
    const li = h('li', { class: `${cls}${current?.id === s.id ? ' selected' : ''}`, 'data-session': s.id, 'data-access': s.access },
      h('span', { class: 'when' }, new Date(s.created_at).toLocaleTimeString(lang === 'ja' ? 'ja-JP' : 'en-GB', { hour: '2-digit', minute: '2-digit' })),
      h('span', { class: 'code' }, s.code ? formatCode(s.code) : ''),
      h('span', { class: 'state', 'data-testid': 'list-state' }, label));
    // A supervisor's list holds everyone's sessions: whose each one is.
    if (s.access === 'supervising') li.append(h('span', { class: 'owner', 'data-testid': 'list-staff' }, `${t.listStaff}: ${s.staff_name}`));
    if (s.access === 'incoming') li.append(h('span', { class: 'badge', 'data-testid': 'list-incoming' }, t.incoming));
    // A request on a session not open in the panel must not go unseen.
    if (s.state === 'waiting' && s.requests?.length) li.append(h('span', { class: 'badge', 'data-testid': 'list-requests' }, `${t.requestsTitle} ${s.requests.length}`));
    li.onclick = () => openSession(s);
    return li;
  }));
}

function formatCode(c: string): string {
  return `${c.slice(0, 3)} ${c.slice(3)}`;
}

function openSession(s: SessionInfo): void {
  if (current?.id === s.id) {
    const panel = document.getElementById('panel');
    if (panel) current.mount(panel); // back from another view
    return;
  }
  current?.close();
  current = new Current(s);
  const panel = document.getElementById('panel');
  if (panel) current.mount(panel);
  renderList();
}

/** One open session in the panel: its socket, status, code and live view. */
class Current {
  id: string;
  private ws: WebSocket | null = null;
  private root = h('div', { class: 'session' });
  private status = h('div', { class: 'status', id: 'session-state', role: 'status' });
  private codeBox = h('div', { class: 'codebox' });
  private infoBar = h('div', { class: 'info', id: 'view-info' });
  // Its place is kept while it has nothing to say, so that it appearing or
  // changing never moves the view under the staff's pointer.
  private linkBadge = h('span', { class: 'link-badge', 'data-testid': 'link-badge', 'data-quality': 'none' });
  private customerRTT = -1;
  private staffRTT = -1;
  private viewBox = h('div', { class: 'view', id: 'view' });
  private tools = h('div', { class: 'tools' });
  private view: LiveView;
  private state: string;
  private reason: string;
  private connected = false;
  private seen = false;
  private expiresAt = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private retries = 0;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  // Set once this browser failed to inflate the stream: from then on the
  // session is heard in plain text frames.
  private streamBroke = false;
  // The close-code name when the server closed the socket for good.
  private refused = '';
  private closed = false;
  private device = '';
  private requests: JoinRequest[] = [];
  private refusedBusy = 0;
  private requestError = '';
  // Who is on the session, and what this staff member is on it.
  private access: SessionInfo['access'];
  private staffId = 0;
  private staffName = '';
  private presenters: Member[] = [];
  private watchers: Member[] = [];
  private handover: Handover | null = null;
  // The last word on a hand-over or take-over, or why a mark had no effect.
  private note = '';
  private noteKind = '';
  private handoverBox = h('div', { class: 'handover', id: 'handover' });
  private colleagues: Colleague[] | null = null;

  constructor(private s: SessionInfo) {
    this.id = s.id;
    this.state = s.state;
    this.reason = s.reason || '';
    this.device = s.device || '';
    this.connected = s.customer_connected;
    this.seen = s.customer_seen;
    this.requests = s.requests || [];
    this.refusedBusy = s.refused_busy || 0;
    this.expiresAt = s.expires_in_ms ? Date.now() + s.expires_in_ms : 0;
    this.access = s.access;
    this.staffId = s.staff_id;
    this.staffName = s.staff_name;
    this.presenters = s.presenters || [];
    this.watchers = s.watchers || [];
    this.handover = s.handover || null;
    this.view = new LiveView(this.viewBox, (m) => this.send(m), (i) => this.showInfo(i));
    this.root.append(this.status, this.codeBox, this.handoverBox, this.tools, h('div', { class: 'infoline' }, this.infoBar, this.linkBadge), this.viewBox);
    this.timer = setInterval(() => this.renderCode(), 250);
    // A session handed to this staff member opens only once the customer accepts.
    if (s.state !== 'ended' && s.access !== 'incoming') this.connect();
    this.renderAll();
  }

  /** The session list says this staff member's access changed (a hand-over to them was accepted). */
  accessChanged(access: SessionInfo['access']): void {
    const was = this.access;
    this.access = access;
    if (was === 'incoming' && access !== 'incoming' && !this.ws && !this.closed && this.state !== 'ended') {
      this.refused = '';
      this.connect();
    }
    if (was !== access) this.renderAll();
  }

  /** Whether this staff member may point, highlight and draw now. */
  private presents(): boolean {
    return this.presenters.some((p) => p.staff_id === me?.id);
  }

  private myColour(): number {
    return this.presenters.find((p) => p.staff_id === me?.id)?.colour ?? -1;
  }

  mount(panel: HTMLElement): void {
    panel.replaceChildren(this.root);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.stableTimer);
    clearInterval(this.timer);
    this.ws?.close(1000, 'console closed');
    this.view.clear();
  }

  private send(m: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  /** Called when the staff's own network goes away or comes back. */
  network(online: boolean): void {
    if (this.closed || this.state === 'ended') return;
    if (!online) {
      this.ws?.close(1000, 'offline');
      // Say so at once: with the network gone, the socket's close can take
      // a long while to complete.
      this.renderAll();
    } else if (!this.ws && !this.refused) { this.retries = 0; this.connect(); }
  }

  private connect(): void {
    if (navigator.onLine === false) { this.renderAll(); return; }
    const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/sessions/${encodeURIComponent(this.id)}/ws`, inflates && !this.streamBroke ? [STREAM_PROTOCOL] : []);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    // Made on the first binary frame: only the compressed stream sends
    // them (the server chose it; a proxy may have hidden that choice from
    // ws.protocol, which the frames themselves do not).
    let inflater: Inflater | null = null;
    ws.onopen = () => {
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => { this.retries = 0; }, STABLE_MS);
      this.refused = '';
      this.renderAll();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') { this.onMessage(ev.data); return; }
      if (!inflater && inflates) {
        inflater = new Inflater((text) => { if (this.ws === ws && !this.closed) this.onMessage(text); }, () => {
          // A broken stream cannot go on: the next socket, plain text.
          this.streamBroke = true;
          if (this.ws === ws) ws.close(1000, 'stream broken');
        });
      }
      inflater?.push(ev.data as ArrayBuffer);
    };
    // What was sent before the close is heard before the close is acted on
    // (but a close is never held up for long).
    ws.onclose = (ev) => {
      if (!inflater) { this.closedSocket(ws, ev); return; }
      const inf = inflater;
      void Promise.race([inf.idle(), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS))]).then(() => { inf.stop(); this.closedSocket(ws, ev); });
    };
  }

  private closedSocket(ws: WebSocket, ev: CloseEvent): void {
    if (this.ws !== ws || this.closed) return;
    this.ws = null;
    clearTimeout(this.stableTimer);
    if (ev.code === CLOSE_SESSION_ENDED) {
      if (this.state !== 'ended') { this.state = 'ended'; this.reason = ev.reason || this.reason; }
      this.view.clear();
      this.renderAll();
      void refreshList();
      return;
    }
    this.view.clear();
    if (ev.code === CLOSE_HANDED_OVER) {
      this.refused = 'handed_over';
      this.renderAll();
      void refreshList();
      return;
    }
    if (!reconnects(ev.code)) {
      // Trying again would be refused the same way (login expired, a
      // message the server does not allow): stop and say so.
      this.refused = closeName(ev.code);
      this.renderAll();
      return;
    }
    // The console reconnects by itself and asks for a fresh snapshot on arrival.
    if (navigator.onLine === false) { this.renderAll(); return; }
    const delay = backoff(this.retries);
    this.retries++;
    this.renderAll();
    setTimeout(() => { if (!this.closed) this.connect(); }, delay);
  }

  private onMessage(data: string): void {
    let m: {
      t: string; state?: string; reason?: string; device?: string; connected?: boolean; seen?: boolean; requests?: JoinRequest[]; refused_busy?: number;
      st?: number; ct?: number; events?: never[]; x?: number; y?: number; w?: number; h?: number; s?: number; side?: string; rtt_ms?: number;
      staff_id?: number; staff_name?: string; presenters?: Member[]; watchers?: Member[]; handover?: Handover;
      id?: number; by?: number; name?: string; kind?: string; pts?: [number, number, number][]; code?: string; event?: string; to?: string;
    };
    try { m = JSON.parse(data); } catch { return; }
    switch (m.t) {
      case 'events':
        if (this.state === 'live') this.view.addBatch(m.st || Date.now(), m.ct || Date.now(), m.events || []);
        if (!this.view.hasContent()) this.renderStatus();
        else if (!this.viewBox.classList.contains('has-content')) this.renderAll();
        break;
      case 'state':
        this.state = m.state || this.state;
        this.reason = m.reason || '';
        this.device = m.device || this.device;
        this.connected = Boolean(m.connected);
        this.seen = Boolean(m.seen);
        this.requests = Array.isArray(m.requests) ? m.requests : [];
        this.refusedBusy = Number(m.refused_busy) || 0;
        this.staffId = Number(m.staff_id) || this.staffId;
        this.staffName = m.staff_name || this.staffName;
        this.presenters = Array.isArray(m.presenters) ? m.presenters : [];
        this.watchers = Array.isArray(m.watchers) ? m.watchers : [];
        this.handover = m.handover || null;
        this.access = this.staffId === me?.id ? 'in_charge' : this.presents() ? 'presenting' : me?.role !== 'agent' ? 'supervising' : this.access;
        // Marks of staff no longer on the session go from the view.
        this.view.keepOthers(new Set(this.presenters.filter((p) => p.staff_id !== me?.id).map((p) => p.colour)));
        // Paused or ended means the view goes blank at once.
        if (this.state !== 'live' || !this.connected) this.view.clear();
        if (this.state === 'ended') void refreshList();
        this.syncList();
        this.renderAll();
        break;
      case 'reset':
        this.view.reset();
        this.renderAll();
        break;
      case 'pointer':
      case 'highlight':
      case 'stroke': {
        // Another staff member's mark (every console hears them all; its own are drawn as the staff draw them).
        const by = Number(m.by);
        if (!Number.isInteger(by) || by === this.myColour()) break;
        if (m.t === 'pointer') this.view.otherPointer(by, m.name || '', Number(m.id) || 0, Number(m.x) || 0, Number(m.y) || 0);
        else if (m.t === 'highlight') this.view.otherHighlight(by, Number(m.id) || 0);
        else if (Array.isArray(m.pts)) this.view.otherStroke(by, m.kind === 'laser' ? 'laser' : 'pen', m.pts);
        break;
      }
      case 'notice':
        if (m.code === 'read_only') { this.note = t.readOnly; this.noteKind = 'read_only'; this.renderHandover(); }
        break;
      case 'handover':
        this.note = t.handoverDone[m.event || ''] || '';
        this.noteKind = m.event || '';
        this.renderAll();
        void refreshList();
        break;
      case 'status':
        if (m.state === 'warning') this.status.textContent = `${this.statusText()} — ${t.warning}`;
        break;
      case 'hello':
        this.device = m.device || this.device;
        this.renderAll();
        break;
      case 'link':
        // Round trips of the customer's socket and of this console's own.
        if (m.side === 'customer') this.customerRTT = Number(m.rtt_ms);
        else if (m.side === 'staff') this.staffRTT = Number(m.rtt_ms);
        this.renderLink();
        break;
      case 'viewport': {
        const was = this.view.zoomed;
        this.view.setVisual({ x: Number(m.x) || 0, y: Number(m.y) || 0, w: Number(m.w) || 1, h: Number(m.h) || 1, s: Number(m.s) || 1 });
        // The follow button is there only while the customer is zoomed in.
        if (was !== this.view.zoomed) this.renderAll();
        break;
      }
    }
  }

  /** Reflects this session's state in the list at once, not at the next poll. */
  private syncList(): void {
    const entry = sessions.find((x) => x.id === this.id);
    if (!entry) return;
    entry.state = this.state;
    entry.reason = this.reason;
    entry.requests = this.requests;
    entry.customer_connected = this.connected;
    entry.customer_seen = this.seen;
    if (this.state !== 'waiting') entry.code = undefined;
    renderList();
  }

  /**
   * What the status line says, as a stable key (data-phase, for tests and
   * support tools) and as text in the staff's language.
   */
  private phase(): [string, string] {
    if (this.state === 'ended') return ['ended', t.reasons[this.reason] || t.state.ended];
    if (this.refused === 'handed_over') return ['handed_over', t.handedOver];
    if (this.refused) return ['refused', this.refused === 'unauthorized' ? t.loginExpired : t.refused];
    if (this.access === 'incoming') return ['incoming', t.incoming];
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return ['reconnecting', t.state.reconnecting];
    if (this.state === 'waiting' && this.requests.length) return ['request_pending', t.requestPending];
    if (this.state === 'waiting' && this.refusedBusy) return ['customer_refused_busy', t.refusedBusy];
    if (this.state === 'paused') return ['paused', t.paused[this.reason] || t.state.paused];
    if (this.state === 'live' && !this.connected) return this.seen ? ['customer_disconnected', t.customerDisconnected] : ['customer_confirming', t.customerConfirming];
    if (this.state === 'live' && !this.view.hasContent()) return ['waiting_for_screen', t.waitingForScreen];
    return [this.state, t.state[this.state] || this.state];
  }

  private statusText(): string {
    return this.phase()[1];
  }

  private renderStatus(): void {
    const [phase, text] = this.phase();
    this.status.textContent = text;
    this.status.dataset.phase = phase;
    this.status.dataset.state = this.state;
    this.status.dataset.reason = this.reason;
  }

  private renderAll(): void {
    this.renderStatus();
    this.renderCode();
    this.viewBox.classList.toggle('has-content', this.view.hasContent());
    const presents = this.presents();
    this.view.enabled = this.state === 'live' && presents;
    this.tools.replaceChildren();
    this.renderHandover();
    if (this.state === 'ended' || this.refused === 'handed_over' || this.access === 'incoming') return;
    if (this.state !== 'waiting' && !presents) {
      // Watching read-only: no marks; a supervisor may take the lead.
      this.tools.append(h('span', { class: 'watch-badge', 'data-testid': 'watch-only' }, t.watchOnly));
      if (me?.role !== 'agent' && !this.handover) {
        const take = h('button', { class: 'primary', 'data-testid': 'takeover', title: t.takeoverHint }, t.takeover);
        take.onclick = () => void this.askHandover(() => api.takeover(this.id));
        this.tools.append(take);
      }
    } else if (this.state !== 'waiting') {
      const pointer = h('button', { class: this.view.tool === 'pointer' ? 'tool on' : 'tool', 'data-testid': 'tool-pointer' }, t.pointer);
      const hl = h('button', { class: this.view.tool === 'highlight' ? 'tool on' : 'tool', 'data-testid': 'tool-highlight' }, t.highlight);
      const pen = h('button', { class: this.view.tool === 'pen' ? 'tool on' : 'tool', 'data-testid': 'tool-pen', title: t.penHint }, t.pen);
      const laser = h('button', { class: this.view.tool === 'laser' ? 'tool on' : 'tool', 'data-testid': 'tool-laser', title: t.laserHint }, t.laser);
      pointer.onclick = () => { this.view.tool = 'pointer'; this.renderAll(); };
      hl.onclick = () => { this.view.tool = 'highlight'; this.view.hidePointer(); this.renderAll(); };
      pen.onclick = () => { this.view.tool = 'pen'; this.view.hidePointer(); this.renderAll(); };
      laser.onclick = () => { this.view.tool = 'laser'; this.view.hidePointer(); this.renderAll(); };
      const cut = h('button', { class: 'danger', id: 'cut-session' }, t.cut);
      cut.onclick = () => void this.end('staff_cut');
      this.tools.append(pointer, hl, laser, pen);
      if (this.view.zoomed) {
        const follow = h('button', { class: this.view.follow ? 'tool on' : 'tool', 'data-testid': 'tool-follow', title: t.followHint }, t.follow);
        follow.onclick = () => { this.view.follow = !this.view.follow; this.view.fit(); this.renderAll(); };
        this.tools.append(follow);
      }
      this.tools.append(cut);
    }
    const end = h('button', { class: 'danger', id: 'end-session' }, t.end);
    end.onclick = () => void this.end('staff');
    this.tools.append(end);
    this.showInfo(this.view.info);
    this.renderLink();
  }

  private picking = false;
  private pick = '';

  /**
   * Who is on the session (each presenter in their pointer colour, who
   * watches), a hand-over waiting for the customer, and the buttons to
   * hand the session over. Rebuilt only when something in it changed, so
   * a choice being made is never replaced under the staff's hand.
   */
  private renderHandover(): void {
    const active = this.state === 'live' || this.state === 'paused';
    const mayHand = active && this.seen && !this.handover && (this.access === 'in_charge' || this.access === 'supervising');
    const key = JSON.stringify([lang, active, this.presenters, this.watchers, this.handover, this.note, this.noteKind, mayHand, this.picking, this.colleagues?.length, this.refused]);
    if (this.handoverBox.dataset.key === key) return;
    this.handoverBox.dataset.key = key;
    const box = this.handoverBox;
    box.replaceChildren();
    if (active && this.refused !== 'handed_over') {
      const people = h('div', { class: 'people', 'data-testid': 'people' });
      for (const p of this.presenters) {
        const chip = h('span', { class: 'person', 'data-colour': String(p.colour), 'data-staff': String(p.staff_id) },
          h('span', { class: 'swatch', style: `background:${colourOf(p.colour)}` }), p.name + (p.staff_id === this.staffId ? ` (${t.inCharge})` : ''));
        people.append(chip);
      }
      if (this.watchers.length) people.append(h('span', { class: 'watchers', 'data-testid': 'watchers' }, `${t.watchers}: ${this.watchers.map((w) => w.name).join('・')}`));
      box.append(people);
    }
    if (this.handover && active) {
      const cancel = h('button', { 'data-testid': 'handover-cancel' }, t.handoverCancel);
      cancel.onclick = () => void this.askHandover(() => api.cancelHandover(this.id));
      box.append(h('div', { class: 'pending', 'data-testid': 'handover-pending', 'data-kind': this.handover.kind },
        `${t.handoverWaiting}${this.handover.to.name}`, cancel));
    } else if (mayHand) {
      if (!this.picking) {
        const open = h('button', { 'data-testid': 'handover-open' }, t.handoverTo);
        open.onclick = async () => {
          this.picking = true;
          try { this.colleagues = await api.colleagues(); } catch { this.colleagues = []; }
          this.renderHandover();
        };
        box.append(open);
      } else {
        const select = h('select', { 'data-testid': 'handover-to', 'aria-label': t.handoverPick },
          ...(this.colleagues || []).filter((c) => c.id !== this.staffId).map((c) => {
            const o = h('option', { value: String(c.id) }, `${c.display_name}（${t.roles[c.role] || c.role}）`);
            o.selected = String(c.id) === this.pick;
            return o;
          }));
        select.onchange = () => { this.pick = select.value; };
        this.pick = select.value;
        const send = h('button', { class: 'primary', 'data-testid': 'handover-send' }, t.handoverSend);
        send.onclick = () => { this.picking = false; void this.askHandover(() => api.handover(this.id, Number(this.pick))); };
        const cancel = h('button', { class: 'link' }, t.cancel);
        cancel.onclick = () => { this.picking = false; this.renderHandover(); };
        box.append(h('label', {}, t.handoverPick, select), send, cancel);
      }
    }
    if (this.note) box.append(h('div', { class: this.noteKind === 'accepted' ? 'note' : 'note warn', 'data-testid': 'handover-note', 'data-kind': this.noteKind, role: 'status' }, this.note));
  }

  /** Runs a hand-over request and shows what came of it. */
  private async askHandover(call: () => Promise<SessionInfo>): Promise<void> {
    this.note = '';
    this.noteKind = '';
    try {
      const s = await call();
      this.handover = s.handover || null;
    } catch (x) {
      this.noteKind = x instanceof APIError ? x.code : 'network';
      this.note = (x instanceof APIError && t.handoverErrors[x.code]) || t.error;
    }
    this.renderAll();
  }

  private async end(reason: 'staff' | 'staff_cut'): Promise<void> {
    this.view.clear(); // blank at once, before the server answers
    try {
      await api.end(this.id, reason);
    } catch { /* already ended */ }
    this.state = 'ended';
    this.reason = reason;
    this.renderAll();
    void refreshList();
  }

  private renderCode(): void {
    if (this.state !== 'waiting' || !this.s.code) {
      this.codeBox.replaceChildren();
      return;
    }
    // Rebuilt every 250 ms for the countdown: the request list is kept
    // as it is unless it changed, so a button is never replaced under the
    // staff's click.
    const key = JSON.stringify([this.requests.map((r) => r.id), this.requestError, lang]);
    if (this.codeBox.dataset.requests !== key) {
      this.codeBox.dataset.requests = key;
      this.requestBox = this.renderRequests();
    }
    const left = Math.max(0, this.expiresAt - Date.now());
    const mm = Math.floor(left / 60000);
    const ss = Math.floor((left % 60000) / 1000);
    this.codeBox.replaceChildren(
      h('div', { class: 'label' }, t.code),
      h('div', { class: 'digits', id: 'session-code', 'aria-label': this.s.code.split('').join(' ') }, formatCode(this.s.code)),
      h('div', { class: 'hint' }, t.codeHint),
      h('div', { class: 'countdown', id: 'code-countdown' }, left > 0 ? `${t.expiresIn} ${mm}:${String(ss).padStart(2, '0')}` : t.expired),
      this.requestBox,
    );
  }

  private requestBox: HTMLElement = h('div');

  /**
   * The customers asking to join with this code. Staff admit the one whose
   * check number the customer reads out on the phone; a guesser's request
   * shows another number and is declined.
   */
  private renderRequests(): HTMLElement {
    if (!this.requests.length) return h('div', { class: 'requests', id: 'join-requests', hidden: '' });
    const locale = lang === 'ja' ? 'ja-JP' : 'en-GB';
    const items = this.requests.map((r) => {
      const admit = h('button', { class: 'primary', 'data-testid': 'request-admit' }, t.admit);
      const decline = h('button', { class: 'danger', 'data-testid': 'request-decline' }, t.decline);
      admit.onclick = () => void this.decide(r.id, true);
      decline.onclick = () => void this.decide(r.id, false);
      const who = [t.devices[r.device] || t.devices.unknown, r.browser, new Date(r.at).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' })].filter(Boolean).join(' · ');
      return h('li', { 'data-check': r.check, 'data-request': r.id },
        h('span', { class: 'check', 'aria-label': `${t.checkNumber} ${r.check.split('').join(' ')}` }, r.check),
        h('span', { class: 'who' }, who), decline, admit);
    });
    const box = h('div', { class: 'requests', id: 'join-requests' },
      h('h3', {}, t.requestsTitle), h('p', { class: 'hint' }, t.requestsHint), h('ul', {}, ...items));
    if (this.requestError) box.append(h('div', { class: 'error', role: 'alert', id: 'request-error' }, this.requestError));
    return box;
  }

  private async decide(rid: string, admit: boolean): Promise<void> {
    this.requestError = '';
    try {
      if (admit) {
        const s = await api.admit(this.id, rid);
        this.state = s.state;
        this.device = s.device || this.device;
        this.requests = [];
      } else {
        await api.decline(this.id, rid);
        this.requests = this.requests.filter((r) => r.id !== rid);
      }
    } catch (x) {
      this.requestError = x instanceof APIError && x.code === 'busy' ? t.busy : t.requestError;
    }
    this.syncList();
    this.renderAll();
  }

  /**
   * How good the link is: the customer's round trip decides (a slow phone
   * network is what staff need to know about), the console's own is shown
   * beside it.
   */
  private renderLink(): void {
    const b = this.linkBadge;
    if (this.state === 'waiting' || this.state === 'ended' || !this.connected || this.customerRTT < 0) {
      b.dataset.quality = 'none';
      b.textContent = '';
      return;
    }
    const worst = Math.max(this.customerRTT, this.staffRTT);
    const q = worst < 150 ? 'good' : worst < 400 ? 'fair' : 'poor';
    b.dataset.quality = q;
    b.dataset.customerMs = String(this.customerRTT);
    b.textContent = `${t.link}: ${t.linkQuality[q]} (${t.customerShort} ${this.customerRTT} ms${this.staffRTT >= 0 ? ` / ${t.staffShort} ${this.staffRTT} ms` : ''})`;
  }

  private showInfo(i: ViewInfo): void {
    if (this.state === 'waiting' || this.state === 'ended') {
      this.infoBar.textContent = '';
      return;
    }
    const d = this.infoBar.dataset;
    d.device = this.device || 'unknown';
    d.width = String(i.width || 0);
    d.height = String(i.height || 0);
    d.scrollX = String(Math.round(i.scrollX));
    d.scrollY = String(Math.round(i.scrollY));
    const parts = [`${t.device}: ${t.devices[this.device] || t.devices.unknown}`];
    if (i.width) parts.push(`${t.viewport}: ${i.width}×${i.height}`);
    parts.push(`${t.scroll}: ${Math.round(i.scrollX)}, ${Math.round(i.scrollY)}`);
    this.infoBar.textContent = parts.join('  ·  ');
  }
}

window.addEventListener('offline', () => current?.network(false));
window.addEventListener('online', () => current?.network(true));

void start();
