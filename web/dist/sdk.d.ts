// Types of window.Tomoni, for sites that integrate the SDK from their own
// TypeScript. The SDK's own class implements this interface, so the two
// cannot drift apart. Served at /sdk.d.ts beside /sdk.js.

/** What the SDK is doing ('waiting': a join request waits for the staff's admission). */
export type TomoniState = 'idle' | 'waiting' | 'connecting' | 'live' | 'paused' | 'reconnecting' | 'ended';

/**
 * Why join() did not start sharing: a wrong or expired code, a full server,
 * no network, too many attempts from this address, too many people waiting
 * on this code, staff turned the request away (not_admitted), the request
 * ended before staff decided (expired: the code ran out or staff admitted
 * someone else), the customer declined the staff member's name, or the
 * customer cancelled while waiting.
 */
export type TomoniJoinError = 'invalid_code' | 'busy' | 'network' | 'rate_limited' | 'too_many_requests' | 'not_admitted' | 'expired' | 'declined' | 'cancelled';

export interface TomoniJoinOptions {
  /**
   * Shows the two-digit check number the customer reads out to staff while
   * the join request waits for their admission (called again if it
   * changes). Without it, Tomoni shows its own dialog. end() withdraws the
   * request.
   */
  waiting?: (check: string) => void;
  /**
   * The site's own check of the staff member's name (resolve true to start
   * sharing). Without it, Tomoni asks in its own dialog.
   */
  confirm?: (staffName: string) => boolean | Promise<boolean>;
}

export interface TomoniStateDetail {
  state: TomoniState;
  /** Why it paused or ended: excluded_page, too_large, secure_input, site; staff, customer, expired, … */
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
  /** Ends the session, or withdraws a join request still waiting for staff. */
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
