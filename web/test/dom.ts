// A DOM for unit tests of browser code under Node: jsdom's window, with its
// globals installed where the code under test looks for them.
import { JSDOM } from 'jsdom';

export function useDOM(html: string, url = 'https://bank.example/page'): JSDOM {
  const dom = new JSDOM(html, { url });
  const g = globalThis as Record<string, unknown>;
  for (const k of ['window', 'document', 'Node', 'Element', 'HTMLElement', 'ShadowRoot', 'location', 'history', 'getComputedStyle', 'MutationObserver', 'sessionStorage']) {
    g[k] = (dom.window as unknown as Record<string, unknown>)[k];
  }
  return dom;
}
