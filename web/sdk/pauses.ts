// Pauses: the reasons sharing is withheld (an excluded page, a software
// keyboard in use, the site's own pause) and the watchers that notice them.
// While any reason holds, nothing is captured or sent.
import { excluded, joinSelectors, PolicyView } from './policy';

export type PauseReason = 'excluded_page' | 'too_large' | 'secure_input' | 'site';

// The order says which reason the banner shows when several hold.
const ORDER: PauseReason[] = ['excluded_page', 'too_large', 'secure_input', 'site'];

export class Pauses {
  private held = new Set<PauseReason>();
  private policy: PolicyView | null = null;
  private skSelector = '';
  private observer: MutationObserver | null = null;
  private restoreHistory: (() => void) | null = null;
  private readonly onTouch = (e: Event) => {
    const t = e.target;
    if (this.skSelector && t instanceof Element && t.closest(this.skSelector)) this.set('secure_input', true);
  };
  private readonly onNavigate = () => this.checkPage();

  /** changed is called after the set of reasons changed, with the reason to show ('' for none). */
  constructor(private readonly changed: (reason: string, added: boolean) => void) {}

  /** The reason to show; '' when sharing may flow. */
  get reason(): PauseReason | '' {
    for (const r of ORDER) if (this.held.has(r)) return r;
    return '';
  }

  /** Sets or clears one reason. */
  set(reason: PauseReason, on: boolean): void {
    if (on === this.held.has(reason)) return;
    if (on) this.held.add(reason);
    else this.held.delete(reason);
    this.changed(this.reason, on);
  }

  /** Sets the reasons that depend on the page as it is now, without notifying. */
  reset(): void {
    this.held.delete('excluded_page');
    this.held.delete('too_large');
    this.held.delete('secure_input');
    if (this.policy && excluded(this.policy, location.href)) this.held.add('excluded_page');
    if (this.softKeyboardOpen()) this.held.add('secure_input');
  }

  /** A single-page site moved to another page: what held for the last one is looked at again. */
  checkPage(): void {
    if (this.policy) this.set('excluded_page', excluded(this.policy, location.href));
    this.set('too_large', false);
  }

  softKeyboardOpen(): boolean {
    if (!this.skSelector) return false;
    return Array.from(document.querySelectorAll(this.skSelector)).some(visible);
  }

  /**
   * Watches software keyboards and single-page navigations under policy.
   * The moment a keyboard shows or is touched, the pause is set inside the
   * same task, so before the next frame is painted.
   */
  watch(policy: PolicyView): void {
    this.policy = policy;
    // Checked on every DOM mutation, so built once per policy.
    this.skSelector = joinSelectors(['[data-tomoni-softkeyboard]', ...policy.softkeyboard_selectors]);
    if (this.observer) return;
    this.observer = new MutationObserver(() => this.set('secure_input', this.softKeyboardOpen()));
    this.observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden', 'style', 'class', 'open', 'aria-hidden'] });
    document.addEventListener('pointerdown', this.onTouch, true);
    document.addEventListener('focusin', this.onTouch, true);
    window.addEventListener('popstate', this.onNavigate);
    window.addEventListener('hashchange', this.onNavigate);
    this.restoreHistory = patchHistory(this.onNavigate);
  }

  /** Stops every watcher and gives the page its history methods back. */
  unwatch(): void {
    this.observer?.disconnect();
    this.observer = null;
    document.removeEventListener('pointerdown', this.onTouch, true);
    document.removeEventListener('focusin', this.onTouch, true);
    window.removeEventListener('popstate', this.onNavigate);
    window.removeEventListener('hashchange', this.onNavigate);
    this.restoreHistory?.();
    this.restoreHistory = null;
    this.held.clear();
    this.policy = null;
  }
}

/**
 * Single-page sites change pages with history.pushState and replaceState,
 * which fire no event: wrap both to hear them. The returned function undoes
 * it; if the page wrapped them again on top of ours, ours stays in its
 * chain but does nothing more.
 */
export function patchHistory(onNavigate: () => void): () => void {
  const undo: Array<() => void> = [];
  let active = true;
  for (const m of ['pushState', 'replaceState'] as const) {
    const orig = history[m];
    const wrapper = function (this: History, ...args: Parameters<History['pushState']>) {
      const r = orig.apply(this, args);
      if (active) onNavigate();
      return r;
    };
    history[m] = wrapper;
    undo.push(() => { if (history[m] === wrapper) history[m] = orig; });
  }
  return () => {
    active = false;
    for (const u of undo) u();
  };
}

function visible(el: Element): boolean {
  if (!el.isConnected || (el as HTMLElement).hidden) return false;
  const cs = getComputedStyle(el);
  if (cs.display === 'none' || cs.visibility === 'hidden') return false;
  return el.getClientRects().length > 0;
}
