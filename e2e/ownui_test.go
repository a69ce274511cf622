package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Tomoni's own UI (banner, pointers, highlights) never reaches the staff
// view, also after a fresh snapshot (a console that reconnects asks for
// one) and when the page mounts it again after recording began (a site
// script that rebuilds the body does that): there, unstyled, it would push
// the page's content about under the staff's pointer.
func TestOwnUINeverReachesTheStaffView(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 5*time.Second)
	// A fresh snapshot: the console goes offline and back.
	e.setOffline(e.staff, true)
	e.waitJS(e.staff, "the console to notice", `document.querySelector('#session-state').dataset.phase === 'reconnecting'`, 10*time.Second)
	e.setOffline(e.staff, false)
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 10*time.Second)
	// The page drops Tomoni's UI host; the SDK mounts it again with the next thing it shows.
	e.exec(e.customer, `document.querySelector('tomoni-ui').remove()`)
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=tool-highlight]`)))
	pt := e.pointAt(e.staff, `.hero [data-action=share]`)
	e.run(e.staff, chromedp.MouseClickXY(pt[0], pt[1]))
	e.waitJS(e.customer, "the highlight, in a UI mounted again", shadow+`.querySelector('[data-tomoni=highlight]')`, 5*time.Second)
	// The UI changes more (the pointer moves about), then the page does:
	// once the page's change is in the staff view, the UI's would be too.
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=tool-pointer]`)))
	e.pointAt(e.staff, `#faq-share summary`)
	e.waitJS(e.customer, "the pointer, in a UI mounted again", `Tomoni.pointerPosition() !== null`, 10*time.Second)
	e.exec(e.customer, `document.querySelector('main, body').insertAdjacentHTML('beforeend', '<p id="sentinel">ここまで届きました</p>')`)
	e.waitStaffSees("ここまで届きました", 10*time.Second)
	if leaked := evalAs[int](e, e.staff, staffDoc+`.querySelectorAll('[data-tomoni], .highlight, .banner, .pointer').length`); leaked != 0 {
		t.Fatalf("%d elements of Tomoni's own UI are in the staff view: %s", leaked, evalAs[string](e, e.staff, `[...`+staffDoc+`.querySelectorAll('[data-tomoni], .highlight, .banner, .pointer')].map((n) => n.outerHTML.slice(0, 120)).join(' | ')`))
	}
}
