package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A customer who crafts events by hand (scripts, event handlers, javascript:
// links, a nested srcdoc frame) cannot run script in the staff console.
func TestCraftedCustomerEventsCannotRunScriptInTheConsole(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)
	title := evalAs[string](e, e.staff, `document.title`)

	// The customer tab opens its own socket with its token and sends a page of its own making.
	e.exec(e.customer, `(() => {
		const saved = JSON.parse(sessionStorage.getItem('tomoni.session'));
		const base = document.querySelector('script[src$="/sdk.js"]').src.replace(/\/sdk\.js$/, '').replace(/^http/, 'ws');
		const ws = new WebSocket(base + '/api/customer/ws?token=' + encodeURIComponent(saved.token));
		const now = Date.now();
		const el = (id, tagName, attributes, childNodes) => ({ type: 2, id, tagName, attributes, childNodes: childNodes || [] });
		const text = (id, textContent) => ({ type: 3, id, textContent });
		const snapshot = { type: 0, id: 1, childNodes: [el(2, 'html', {}, [el(3, 'head', {}, []), el(4, 'body', { onload: 'parent.pwned = "onload"' }, [
			el(5, 'script', {}, [text(6, 'parent.pwned = "script"; parent.document.title = "pwned"')]),
			el(7, 'img', { src: 'data:,x', onerror: 'parent.pwned = "onerror"' }),
			el(8, 'a', { id: 'evil-link', href: 'javascript:parent.pwned="link"' }, [text(9, 'click me')]),
			el(10, 'iframe', { srcdoc: '<script>parent.parent.pwned="srcdoc"<\/script>' }),
			el(11, 'div', { style: 'background:url(javascript:parent.pwned="css")' }, [text(12, 'crafted-page-marker')]),
			el(13, 'svg', { onload: 'parent.pwned = "svg"' }),
		])])] };
		ws.onopen = () => {
			ws.send(JSON.stringify({ t: 'status', state: 'live' }));
			ws.send(JSON.stringify({ t: 'events', ct: now, events: [
				{ type: 4, timestamp: now, data: { href: location.href, width: 1000, height: 700 } },
				{ type: 2, timestamp: now, data: { node: snapshot, initialOffset: { top: 0, left: 0 } } },
			] }));
		};
	})()`)
	e.waitStaffSees("crafted-page-marker", 5*time.Second)
	// Give every handler its chance: click the javascript: link, and wait
	// until the image has failed (its onerror would be queued by then), then
	// let the queued tasks run. (rrweb leaves the replay document "loading",
	// so its load event is no signal.)
	e.exec(e.staff, `document.querySelector('#view iframe').contentDocument.getElementById('evil-link')?.click()`)
	e.waitJS(e.staff, "the crafted image to fail", `(() => {
		const d = document.querySelector('#view iframe').contentDocument;
		const img = d.querySelector('img');
		return img && img.complete;
	})()`, 15*time.Second)
	e.run(e.staff, chromedp.Evaluate[chromedp.Void](`new Promise((r) => setTimeout(() => requestAnimationFrame(() => setTimeout(r, 0)), 0))`, chromedp.EvalAwaitPromise))
	if pwned := evalAs[string](e, e.staff, `String(window.pwned)`); pwned != "undefined" {
		t.Fatalf("customer content ran script in the console: %s", pwned)
	}
	if got := evalAs[string](e, e.staff, `document.title`); got != title {
		t.Fatalf("console title changed to %q", got)
	}
	if !evalAs[bool](e, e.staff, `document.querySelector('#view iframe').getAttribute('sandbox') === 'allow-same-origin'`) {
		t.Fatal("replay frame not sandboxed without scripts")
	}
}

// The customer UI and the console are Japanese by default and English on request.
func TestEnglish(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=lang]`)))
	e.waitJS(e.staff, "the console in English", `document.querySelector('#new-session').textContent === 'New session'`, 3*time.Second)
	code := e.newCode()
	e.waitJS(e.staff, "English status", `document.querySelector('#session-state').textContent === 'Waiting for customer'`, 3*time.Second)

	e.openCustomer("index.html")
	e.exec(e.customer, `Tomoni.setLang('en'); Tomoni.open()`)
	e.waitJS(e.customer, "the English dialog", shadow+`.querySelector('[data-tomoni=enter-code]')?.textContent === 'Enter session code'`, 3*time.Second)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=agree]').click()`)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=enter-code]').click()`)
	e.run(e.customer, chromedp.SendKeys(chromedp.JSPath(shadow+`.querySelector('[data-tomoni=code]')`), "000000"))
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=ok]').click()`)
	e.waitJS(e.customer, "the English error", shadow+`.querySelector('[data-tomoni=error]').textContent === 'The code is wrong or has expired. Please ask staff for a new code.'`, 3*time.Second)
	e.run(e.customer, chromedp.SendKeys(chromedp.JSPath(shadow+`.querySelector('[data-tomoni=code]')`), "\b\b\b\b\b\b"+code))
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=ok]').click()`)
	e.waitJS(e.customer, "the English check number", shadow+`.querySelector('[data-tomoni=check]') && `+shadow+`.textContent.includes('Please read this check number')`, 3*time.Second)
	e.waitJS(e.staff, "the English request", `document.querySelector('#session-state').textContent === 'A customer asks to join: compare the check number' && document.querySelector('[data-testid=request-admit]')?.textContent === 'Admit'`, 3*time.Second)
	e.admit(code, evalAs[string](e, e.customer, shadow+`.querySelector('[data-tomoni=check]').textContent`))
	e.waitJS(e.customer, "the English confirmation", shadow+`.querySelector('[data-tomoni=confirm]')?.textContent === 'Start sharing'`, 3*time.Second)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=confirm]').click()`)
	e.waitJS(e.customer, "the English banner", shadow+`.querySelector('[data-tomoni=banner-text]')?.textContent === 'Screen sharing on'`, 3*time.Second)
	e.waitJS(e.staff, "live in English", `document.querySelector('#session-state').textContent === 'Live'`, 3*time.Second)
}
