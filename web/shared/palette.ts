// The colours of staff marks (pointer, highlight, strokes) on a session.
// The server gives each staff member who may point a number of their own
// for the session (0 for the first, then 1, 2, …); the customer's page and
// every console map it to the same colour here, so "the blue circle" means
// the same person on both screens.
export const PALETTE = ['#e53935', '#1e6fd9', '#2e7d32', '#8e24aa', '#ef6c00', '#00838f'];

/** The colour of staff member number by on a session. */
export function colourOf(by: number): string {
  const n = PALETTE.length;
  const i = Number.isFinite(by) ? Math.trunc(by) : 0;
  return PALETTE[((i % n) + n) % n];
}
