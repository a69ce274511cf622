// The site policy as the server serves it (GET /api/policy), and the page
// rules that depend only on URLs.
export interface PolicyView {
  site_origins: string[];
  /** How often the recorder takes a fresh full snapshot (ms). */
  snapshot_every_ms?: number;
  /** The largest page (one event, in bytes) the server takes; larger pages are not shared. */
  max_page_bytes?: number;
  /** The largest message (bytes) the server reads; larger ones go in parts. */
  max_message_bytes?: number;
  mask_selectors: string[];
  block_selectors: string[];
  unmask_selectors: string[];
  excluded_pages: string[];
  softkeyboard_selectors: string[];
  no_customer_files: string[];
  canvas_selectors: string[];
  strip_query: boolean;
  strip_fragment: boolean;
  sdk_masking: boolean;
}

/** Until the server answers, share nothing that the defaults would not. */
export const DEFAULT_POLICY: PolicyView = {
  site_origins: [],
  mask_selectors: [], block_selectors: [], unmask_selectors: [], excluded_pages: [], softkeyboard_selectors: [], no_customer_files: [], canvas_selectors: [],
  strip_query: true, strip_fragment: false, sdk_masking: true,
};

/** Same rules as the server (internal/policy): ** anything, * anything but "/", ? one character but "/". */
function globRegExp(g: string): RegExp {
  let re = '^';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*' && g[i + 1] === '*') { re += '.*'; i++; }
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export function excluded(p: PolicyView, href: string): boolean {
  return matchAny(p.excluded_pages, href);
}

/** Whether a page file may be read here for the staff view (not under no_customer_files). */
export function customerFileAllowed(p: PolicyView, href: string): boolean {
  return !matchAny(p.no_customer_files || [], href.replace(/^blob:/, ''));
}

function matchAny(globs: string[], href: string): boolean {
  let u: URL;
  try { u = new URL(href); } catch { return true; }
  const path = u.pathname || '/';
  const full = `${u.protocol}//${u.host}${path}`;
  return globs.some((g) => globRegExp(g).test(g.startsWith('/') ? path : full));
}

export function cleanURL(p: PolicyView, href: string): string {
  if (!p.strip_query && !p.strip_fragment) return href;
  try {
    const u = new URL(href, location.href);
    if (p.strip_query) u.search = '';
    if (p.strip_fragment) u.hash = '';
    return u.toString();
  } catch {
    return '';
  }
}

/** Joins selectors, dropping any the browser cannot parse (a bad one must not disable the rest). */
export function joinSelectors(list: string[]): string {
  return list.filter((s) => {
    try { document.createDocumentFragment().querySelector(s); return true; } catch { return false; }
  }).join(', ');
}
