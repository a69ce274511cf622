// Transport: the customer's one WebSocket to the server, reconnecting by
// itself after network trouble and never after a close the table says is
// final (internal/protocol/closecodes.json).
import { backoff, closeName, reconnects, STABLE_MS } from '../shared/closecodes';

export interface TransportEvents {
  /** The socket opened; the first message may be sent. */
  open(): void;
  message(data: string): void;
  /** Waiting to reconnect (network trouble or a server going away). */
  retrying(): void;
  /** Closed for good: name is the close code's name, reason the server's text. */
  closed(code: number, name: string, reason: string): void;
}

export class Transport {
  private ws: WebSocket | null = null;
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private url = '';
  private stopped = true;
  private readonly onOffline = () => { this.ws?.close(1000, 'offline'); };
  private readonly onOnline = () => {
    if (!this.stopped && !this.ws) {
      this.retries = 0;
      this.open();
    }
  };

  constructor(private readonly base: string, private readonly on: TransportEvents) {}

  /** Whether a retry is under way (for the "reconnecting" wording). */
  get retrying(): boolean { return this.retries > 0; }

  /** Opens the socket for a customer token, and keeps it open until stop(). */
  start(token: string): void {
    this.url = `${this.base.replace(/^http/, 'ws')}/api/customer/ws?token=${encodeURIComponent(token)}`;
    if (this.stopped) {
      this.stopped = false;
      // A dead network can leave a socket looking open for a long time: drop
      // it when the browser knows it is offline, and come back the moment it
      // is online again.
      window.addEventListener('offline', this.onOffline);
      window.addEventListener('online', this.onOnline);
    }
    this.open();
  }

  isOpen(): boolean { return this.ws?.readyState === WebSocket.OPEN; }

  send(m: object | string): void {
    if (this.isOpen()) this.ws?.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  /** Drops the socket and reconnects with back-off (e.g. a part of the page failed to load). */
  bounce(): void {
    this.ws?.close(1000, 'retry');
  }

  /** Closes the socket for good. */
  stop(code = 1000, reason = ''): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stableTimer);
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('online', this.onOnline);
    const ws = this.ws;
    this.ws = null;
    this.retries = 0;
    ws?.close(code, reason);
  }

  private open(): void {
    clearTimeout(this.retryTimer);
    if (navigator.onLine === false) {
      this.retries = Math.max(this.retries, 1);
      this.on.retrying();
      return; // the 'online' event reconnects
    }
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => { this.retries = 0; }, STABLE_MS);
      this.on.open();
    };
    ws.onmessage = (ev) => { if (typeof ev.data === 'string') this.on.message(ev.data); };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.stableTimer);
      if (!reconnects(ev.code)) {
        this.stop();
        this.on.closed(ev.code, closeName(ev.code), ev.reason);
        return;
      }
      if (this.stopped) return;
      this.retries++;
      this.on.retrying();
      if (navigator.onLine === false) return; // the 'online' event reconnects
      this.retryTimer = setTimeout(() => this.open(), backoff(this.retries - 1));
    };
  }
}
