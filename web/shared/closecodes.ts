// The WebSocket close codes, from the one table the server follows too
// (internal/protocol/closecodes.json), so the SDK, the console and the
// server cannot disagree about what a close means.
import table from '../../internal/protocol/closecodes.json';

interface Row { code: number; name: string; reconnect: boolean }

const rows: Row[] = table.codes;

export const CLOSE_SESSION_ENDED = byName('session_ended');
export const CLOSE_UNAUTHORIZED = byName('unauthorized');
export const CLOSE_REPLACED = byName('replaced');
export const CLOSE_HANDED_OVER = byName('handed_over');

function byName(name: string): number {
  const r = rows.find((c) => c.name === name);
  if (!r) throw new Error(`close code ${name} missing from the table`);
  return r.code;
}

/** Whether a client closed with code should open its socket again by itself. */
export function reconnects(code: number): boolean {
  const r = rows.find((c) => c.code === code);
  return r ? r.reconnect : table.unknown_reconnect;
}

/** The table's name for a code ("closed" for codes it does not list). */
export function closeName(code: number): string {
  return rows.find((c) => c.code === code)?.name || 'closed';
}

/**
 * Back-off between reconnects: 0.5 s doubling to 10 s, with jitter so that
 * many clients dropped at once do not come back at once.
 */
export function backoff(retries: number): number {
  return Math.min(10000, 500 * 2 ** retries) * (0.7 + Math.random() * 0.6);
}

/**
 * A socket must stay open this long before the back-off starts again from
 * the shortest delay: a server that accepts and then drops a socket at once
 * is not hammered twice a second.
 */
export const STABLE_MS = 10000;
