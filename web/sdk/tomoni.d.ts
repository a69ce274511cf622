// Types of window.Tomoni, for sites that integrate the SDK from their own
// TypeScript. The SDK's own class implements this interface, so the two
// cannot drift apart. Served at /sdk.d.ts beside /sdk.js.

/** What the SDK is doing. */
export type TomoniState = 'idle' | 'connecting' | 'live' | 'paused' | 'reconnecting' | 'ended';

/** Why join() was refused. */
export type TomoniJoinError = 'invalid_code' | 'busy' | 'network' | 'rate_limited' | 'declined';

export interface TomoniJoinOptions {
  /**
   * The site's own check of the staff member's name (resolve true to start
   * sharing). Without it, Tomoni asks in its own dialog.
   */
  confirm?: (staffName: string) => boolean | Promise<boolean>;
}

export interface TomoniStateDetail {
  state: TomoniState;
  /** Why it paused or ended: excluded_page, secure_input, site; staff, customer, expired, … */
  reason?: string;
  /** The staff member's name, once joined. */
  staff?: string;
}

export interface TomoniAPI {
  readonly version: string;
  /** The current state. */
  readonly current: TomoniStateDetail;
  /** Opens the consent and code dialog. */
  open(): void;
  /** Joins with a code from the site's own UI; rejects with an Error whose message is a TomoniJoinError. */
  join(code: string, opts?: TomoniJoinOptions): Promise<void>;
  /** Ends the session. */
  end(): void;
  /** Withholds content for the site's own reasons until resume(). */
  pause(reason?: string): void;
  resume(): void;
  /** Subscribes to state changes (also the DOM event tomoni:state); returns an unsubscribe function. */
  on(event: 'state', fn: (d: TomoniStateDetail) => void): () => void;
  /** Switches the customer UI's language. */
  setLang(lang: 'ja' | 'en'): void;
}

declare global {
  interface Window { Tomoni?: TomoniAPI }
  interface DocumentEventMap { 'tomoni:state': CustomEvent<TomoniStateDetail>; 'tomoni:ready': Event }
}
