// Continuity: what carries a session from page to page. The customer token
// lives in this tab's sessionStorage; a link to another of the bank's
// origins carries a one-time hand-off token in the URL fragment (never sent
// to any server); and of several tabs holding the same session (a
// duplicated tab gets a copy of sessionStorage) only one shares.
import { PolicyView } from './policy';

export interface Saved { token: string; session: string; staff: string; policy?: PolicyView }

const STORAGE_KEY = 'tomoni.session';
const CHANNEL = 'tomoni';
const HANDOFF = /(^#|&)tomoni-handoff=([A-Za-z0-9_-]+)/;

export function loadSaved(): Saved | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Saved) : null;
  } catch {
    return null;
  }
}

export function persist(saved: Saved): void {
  try { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(saved)); } catch { /* private mode */ }
}

export function forget(): void {
  try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* ignore */ }
}

/** A join request waiting for the staff's admission, carried to the next page of the tab. */
export interface Pending { token: string; check: string }

const PENDING_KEY = 'tomoni.pending';

export function loadPending(): Pending | null {
  try {
    const raw = sessionStorage.getItem(PENDING_KEY);
    const p = raw ? (JSON.parse(raw) as Pending) : null;
    return p && typeof p.token === 'string' && typeof p.check === 'string' ? p : null;
  } catch {
    return null;
  }
}

export function persistPending(p: Pending | null): void {
  try {
    if (p) sessionStorage.setItem(PENDING_KEY, JSON.stringify(p));
    else sessionStorage.removeItem(PENDING_KEY);
  } catch { /* private mode: the request is simply not carried */ }
}

/** Takes a hand-off token out of the URL, leaving the rest of the fragment. */
export function takeHandoff(): string | null {
  const m = location.hash.match(HANDOFF);
  if (!m) return null;
  let rest = location.hash.replace(HANDOFF, '$1').replace(/^#&/, '#').replace(/&$/, '');
  if (rest === '#') rest = '';
  history.replaceState(history.state, '', location.pathname + location.search + rest);
  return m[2];
}

/** Adds a hand-off token to url's fragment. */
export function withHandoff(url: URL, handoff: string): URL {
  const rest = url.hash.replace(/^#/, '');
  url.hash = `${rest ? `${rest}&` : ''}tomoni-handoff=${handoff}`;
  return url;
}

/**
 * Tabs is this tab's voice among the tabs of its origin: it answers "who
 * shares session S?" while this tab shares S, and asks the same before this
 * tab takes a saved session over.
 */
export class Tabs {
  private channel: BroadcastChannel | null = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;

  constructor(sharing: () => string | null) {
    if (this.channel) {
      this.channel.onmessage = (ev: MessageEvent) => {
        const m = ev.data as { t?: string; session?: string; nonce?: string } | null;
        if (m?.t === 'who' && m.session && m.session === sharing()) {
          this.channel?.postMessage({ t: 'mine', session: m.session, nonce: m.nonce });
        }
      };
    }
  }

  /** Resolves true when another tab of this origin already shares session. */
  sharedElsewhere(session: string): Promise<boolean> {
    if (!this.channel) return Promise.resolve(false);
    const nonce = Math.random().toString(36).slice(2);
    return new Promise((resolve) => {
      const probe = new BroadcastChannel(CHANNEL);
      const timer = setTimeout(() => { probe.close(); resolve(false); }, 200);
      probe.onmessage = (ev: MessageEvent) => {
        const m = ev.data as { t?: string; nonce?: string } | null;
        if (m?.t === 'mine' && m.nonce === nonce) {
          clearTimeout(timer);
          probe.close();
          resolve(true);
        }
      };
      probe.postMessage({ t: 'who', session, nonce });
    });
  }
}

/**
 * The link a click would follow to another of the bank's origins, or null
 * for clicks the page handles itself (modifiers, other targets, same origin).
 */
export function crossOriginLink(e: MouseEvent, origins: string[]): URL | null {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return null;
  const target = e.target instanceof Element ? e.target : null;
  const a = target?.closest('a[href]') as HTMLAnchorElement | null;
  if (!a || (a.target && a.target !== '_self')) return null;
  let url: URL;
  try { url = new URL(a.href, location.href); } catch { return null; }
  if (url.origin === location.origin || !origins.includes(url.origin)) return null;
  return url;
}
