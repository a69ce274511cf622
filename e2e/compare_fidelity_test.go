package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// rect is a region of the customer's viewport, in CSS pixels.
type rect struct{ X, Y, W, H float64 }

// similarity is the share of pixels of a that match b (each channel within
// tol), outside the excluded rectangles. The images are compared by the
// browser (a canvas in the staff's tab): decoding them in Go under the race
// detector took seconds each.
func (e *env) similarity(a, b []byte, exclude []rect, tol int) (float64, error) {
	return e.similarityWithin(a, b, exclude, tol, 0)
}

// similarityWithin is similarity with b moved by up to shift pixels each
// way, the best match counting: views drawn at different scales land on
// pixel grids up to a pixel apart.
func (e *env) similarityWithin(a, b []byte, exclude []rect, tol, shift int) (float64, error) {
	ex, err := json.Marshal(exclude)
	if err != nil {
		return 0, err
	}
	js := fmt.Sprintf(`(async (a, b, ex, tol, shift) => {
		const load = (s) => new Promise((res, rej) => { const i = new Image(); i.onload = () => res(i); i.onerror = () => rej(new Error('not an image')); i.src = 'data:image/png;base64,' + s; });
		const [ia, ib] = await Promise.all([load(a), load(b)]);
		if (ia.naturalWidth !== ib.naturalWidth || ia.naturalHeight !== ib.naturalHeight) return 'sizes differ: ' + [ia.naturalWidth, ia.naturalHeight, ib.naturalWidth, ib.naturalHeight].join(' ');
		const w = ia.naturalWidth, h = ia.naturalHeight;
		const px = (img) => { const c = document.createElement('canvas'); c.width = w; c.height = h; const x = c.getContext('2d'); x.drawImage(img, 0, 0); return x.getImageData(0, 0, w, h).data; };
		const pa = px(ia), pb = px(ib);
		const skip = new Uint8Array(w * h);
		for (const r of ex) {
			for (let y = Math.max(0, Math.floor(r.Y)); y < Math.min(h, Math.ceil(r.Y + r.H)); y++)
				for (let x = Math.max(0, Math.floor(r.X)); x < Math.min(w, Math.ceil(r.X + r.W)); x++) skip[y * w + x] = 1;
		}
		let best = -1;
		for (let dy = -shift; dy <= shift; dy++) for (let dx = -shift; dx <= shift; dx++) {
			let total = 0, same = 0;
			for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
				const i = y * w + x;
				if (skip[i]) continue;
				total++;
				const bx = Math.min(w - 1, Math.max(0, x + dx)), by = Math.min(h - 1, Math.max(0, y + dy));
				const j = i * 4, k = (by * w + bx) * 4;
				if (Math.abs(pa[j] - pb[k]) <= tol && Math.abs(pa[j + 1] - pb[k + 1]) <= tol && Math.abs(pa[j + 2] - pb[k + 2]) <= tol) same++;
			}
			if (!total) return 'every pixel excluded';
			best = Math.max(best, same / total);
		}
		return String(best);
	})(%q, %q, %s, %d, %d)`, base64.StdEncoding.EncodeToString(a), base64.StdEncoding.EncodeToString(b), ex, tol, shift)
	out := evalAs[string](e, e.comparer(), js, chromedp.EvalAwaitPromise)
	v, err := strconv.ParseFloat(out, 64)
	if err != nil {
		return 0, errors.New(out)
	}
	return v, nil
}

// comparer is a blank tab of the staff's browser context where screenshots
// are compared: no page's CSP or work gets in the way.
func (e *env) comparer() context.Context {
	e.t.Helper()
	if e.compareTab == nil {
		tab, cancel := chromedp.NewContext(e.staff)
		e.t.Cleanup(cancel)
		if err := chromedp.Do(tab); err != nil {
			e.t.Fatalf("open a tab for comparisons: %v", err)
		}
		e.compareTab = tab
	}
	return e.compareTab
}

func screenshot(t testing.TB, tab context.Context, clip *page.Viewport) []byte {
	t.Helper()
	res, err := chromedp.Call(tab, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng, Clip: clip, OptimizeForSpeed: new(true)})
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return res.Data
}

// settled waits until a document's fonts and images are in.
const settled = `(async (d) => { await d.fonts.ready; await Promise.all([...d.images].map((i) => i.complete ? 0 : new Promise((r) => { i.onload = i.onerror = r; }))); await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); return true; })`

// compareViews screenshots the customer's viewport and the staff's replay
// of it at the same scale and returns their pixel similarity, with the
// regions the staff are not meant to see as the customer does (masked
// fields, blocked elements, Tomoni's own banner and pointer) left out.
func (e *env) compareViews(t *testing.T, name string) float64 {
	t.Helper()
	// Same page on both sides: the staff view shows the customer's text.
	e.waitJS(e.staff, "the staff view to show "+name, fmt.Sprintf(`%s?.title === %q && %s.querySelector('h1')?.textContent === %q`, staffDoc, evalAs[string](e, e.customer, `document.title`), staffDoc, evalAs[string](e, e.customer, `document.querySelector('h1')?.textContent`)), 10*time.Second)
	evalAs[bool](e, e.customer, settled+`(document)`, chromedp.EvalAwaitPromise)
	return e.compareWith(t, name, chromiumCustomer{e, e.customer})
}

// customerSide is the customer's browser as the comparison needs it.
type customerSide interface {
	script(js string) json.RawMessage // evaluates an expression
	shot() []byte                     // the viewport as PNG
}

// chromiumCustomer is a Chromium tab showing a page: the customer's, or
// (in the WebKit comparison) the same page opened directly in Chromium.
type chromiumCustomer struct {
	e   *env
	tab context.Context
}

func (c chromiumCustomer) script(js string) json.RawMessage {
	return evalAs[json.RawMessage](c.e, c.tab, js)
}
func (c chromiumCustomer) shot() []byte { return screenshot(c.e.t, c.tab, nil) }

func (w *webkit) script(js string) json.RawMessage {
	return evalWK[json.RawMessage](w, "return "+js+";")
}
func (w *webkit) shot() []byte { return w.screenshot() }

// views are the two sides of a comparison: the customer's viewport and
// the staff view at the same scale, and what is left out of it.
type views struct {
	customer, staff []byte
	exclude         []rect
}

// excludedJS lists, in the customer's viewport, what the staff are not
// meant to see as the customer does.
const excludedJS = `(() => {
		const out = [];
		const add = (el) => { const r = el.getBoundingClientRect(); if (r.width && r.height) out.push({X: r.left - 2, Y: r.top - 2, W: r.width + 4, H: r.height + 4}); };
		// (data-fidelity-placeholder marks what a test page shows as a placeholder on purpose.)
		document.querySelectorAll('input, textarea, select, [contenteditable], canvas, [data-tomoni-mask], [data-tomoni-block], [data-tomoni-softkeyboard], [data-fidelity-placeholder]').forEach(add);
		// Closed shadow roots cannot be read: their hosts are boxes of their size (compared below).
		document.querySelectorAll('*').forEach((el) => { if (el.tagName.includes('-') && !el.shadowRoot && customElements.get(el.tagName.toLowerCase()) && !el.childElementCount && !el.textContent.trim() && el.tagName !== 'TOMONI-UI') add(el); });
		// Frames of other origins are placeholders by design (their content cannot be recorded).
		document.querySelectorAll('iframe').forEach((f) => { if (!f.contentDocument) add(f); });
		// Tomoni's own UI, with the shadow it casts on the page.
		const ui = document.querySelector('tomoni-ui')?.shadowRoot;
		ui?.querySelectorAll('[data-tomoni=banner], [data-tomoni=pointer], [data-tomoni=pointer-label], [data-tomoni=highlight], [data-tomoni=toast]').forEach((el) => { const r = el.getBoundingClientRect(); if (r.width && r.height) out.push({X: r.left - 20, Y: r.top - 20, W: r.width + 40, H: r.height + 40}); });
		return out;
	})()`

// excluded reads the regions a side leaves out, at its visual scale.
func excluded(t *testing.T, side customerSide, scale float64) []rect {
	t.Helper()
	var out []rect
	if err := json.Unmarshal(side.script(excludedJS), &out); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		out[i] = rect{out[i].X * scale, out[i].Y * scale, out[i].W * scale, out[i].H * scale}
	}
	return out
}

// capture screenshots the staff view at scale 1 and the customer's screen as cust shows it.
func (e *env) capture(t *testing.T, name string, cust customerSide) views {
	t.Helper()
	evalAs[bool](e, e.staff, settled+`(`+staffDoc+`)`, chromedp.EvalAwaitPromise)
	var vw []float64
	if err := json.Unmarshal(cust.script(`[innerWidth, innerHeight, visualViewport.scale]`), &vw); err != nil {
		t.Fatal(err)
	}
	// A phone shows a page without a viewport meta zoomed out: compare at
	// the customer's scale.
	scale := vw[2]
	exclude := excluded(t, cust, scale)
	custShot := cust.shot()
	// The staff view at scale 1, without the replayer's own mouse. The
	// console fits the view again whenever something of the customer's
	// arrives (a viewport change, a scroll): a shot taken after that is
	// taken again.
	for try := 0; ; try++ {
		clip := evalAs[[]float64](e, e.staff, `(() => {
			const w = document.querySelector('#view .replayer-wrapper');
			w.style.transform = 'none';
			const st = document.querySelector('#view .stage');
			const f = w.querySelector('iframe');
			st.style.width = f.offsetWidth + 'px'; st.style.height = f.offsetHeight + 'px'; st.style.left = '0px';
			document.querySelectorAll('.replayer-mouse, .replayer-mouse-tail, #view .overlay').forEach((m) => m.style.display = 'none');
			const r = f.getBoundingClientRect();
			return [r.left, r.top, f.offsetWidth, f.offsetHeight];
		})()`)
		evalAs[bool](e, e.staff, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)
		if int(clip[2]) != int(vw[0]) || int(clip[3]) != int(vw[1]) {
			t.Fatalf("%s: staff view is %v×%v, the customer's viewport %v×%v", name, clip[2], clip[3], vw[0], vw[1])
		}
		staff := screenshot(t, e.staff, &page.Viewport{X: clip[0], Y: clip[1], Width: clip[2], Height: clip[3], Scale: scale})
		unscaled := evalAs[bool](e, e.staff, `document.querySelector('#view .replayer-wrapper').style.transform === 'none' && document.querySelector('#view .stage').style.left === '0px'`)
		if unscaled || try == 4 {
			return views{customer: custShot, staff: staff, exclude: exclude}
		}
	}
}

// keepShots writes a comparison's screenshots to e2e/artifacts/fidelity.
func keepShots(name string, shots map[string][]byte) {
	dir := filepath.Join("artifacts", "fidelity")
	os.MkdirAll(dir, 0o755)
	for side, shot := range shots {
		os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+"-"+side+".png"), shot, 0o644)
	}
}

// compareWith compares the staff view with the customer's screen as cust shows it.
func (e *env) compareWith(t *testing.T, name string, cust customerSide) float64 {
	t.Helper()
	v := e.capture(t, name, cust)
	sim, err := e.similarity(v.customer, v.staff, v.exclude, 24)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// Keep the screenshots of a page that falls short (encoding them all
	// would cost seconds under the race detector); TOMONI_FIDELITY_SHOTS=1
	// keeps every page's.
	if sim < 0.995 || os.Getenv("TOMONI_FIDELITY_SHOTS") != "" {
		keepShots(name, map[string][]byte{"customer": v.customer, "staff": v.staff})
	}
	return sim
}

// staffTalksToTomoniOnly records every request of the staff's browser
// from now to the end of the test, and fails the test for any that went
// anywhere but the Tomoni server: every page of the fidelity set is held
// to it.
func (e *env) staffTalksToTomoniOnly(t *testing.T) {
	t.Helper()
	requests := e.recordRequests()
	t.Cleanup(func() { requests.assertTomoniOnly(t, e) })
}

// startFidelity starts a server and sizes the tabs for pixel comparisons:
// the customer's viewport 1024×720, the staff's window with room for it at
// scale 1. check compares the current page and fails below the bound.
func startFidelity(t *testing.T) (*env, func(name string)) {
	t.Helper()
	e := mustStart(t)
	e.staffTalksToTomoniOnly(t)
	e.sizeTab(e.staff, 1400, 1000, 1, false)
	e.sizeTab(e.customer, 1024, 720, 1, false)
	e.staffLogin()
	check := func(name string) {
		t.Helper()
		sim := e.compareViews(t, name)
		t.Logf("fidelity %-28s %.4f", name, sim)
		min := 0.995
		if strings.Contains(name, "zoomed out") {
			// The customer's browser draws the page's text at 0.4 scale and
			// the staff view is captured at that scale after drawing it at
			// 1: glyph edges differ. Layout, colours and images match.
			min = 0.985
		}
		if sim < min {
			t.Errorf("%s: staff view matches %.4f of the customer's pixels, want ≥ %.3f (screenshots in e2e/artifacts/fidelity)", name, sim, min)
		}
	}
	return e, check
}

// The staff see what the customer sees: each page of the demo bank and its
// internet banking, screenshotted on both sides, matches pixel for pixel
// (docs/fidelity.md keeps the numbers).
func TestStaffSeeWhatTheCustomerSees(t *testing.T) {
	e, check := startFidelity(t)
	e.join("index.html")
	for _, p := range []string{"index.html", "login.html", "account.html", "transfer.html"} {
		if p != "index.html" {
			e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/"+p))
			e.waitJS(e.customer, "the banner on "+p, shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
		}
		check("bank/" + p)
	}
	// After the software keyboard was open and closed again.
	e.exec(e.customer, `document.getElementById('pin-open').click()`)
	e.waitJS(e.staff, "the pause", `document.querySelector('#session-state').dataset.phase === 'paused'`, 10*time.Second)
	e.exec(e.customer, `document.querySelector('#keypad button[data-key="閉じる"]').click()`)
	e.waitJS(e.staff, "sharing to resume", `document.querySelector('#session-state').dataset.phase === 'live'`, 10*time.Second)
	check("bank/transfer.html (after the keyboard)")
	e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/index.html"))
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	e.exec(e.customer, `document.getElementById('to-ib').click()`)
	e.waitJS(e.customer, "the banner on the internet banking", `location.origin === `+jsString(e.app.DemoIBURL())+` && `+shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	check("ib/index.html")
	e.run(e.customer, chromedp.Navigate(e.app.DemoIBURL()+"/history.html"))
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	check("ib/history.html")

}

// The same on pages beyond the demo: files on a CDN without CORS, a web
// font, web components, a hover menu, and phone layouts.
func TestStaffSeeWhatTheCustomerSeesOnOtherSites(t *testing.T) {
	e, check := startFidelity(t)
	// A page whose stylesheet and images are on a CDN without CORS, with a
	// canvas and a relative poster.
	siteURL, _ := startCDNSite(t, e)
	e.joinAt(siteURL + "/cdn-page.html")
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	check("site/cdn-page.html")

	// A web font the site serves itself, without CORS.
	e.run(e.customer, chromedp.Navigate(siteURL+"/webfont.html"))
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	e.waitJS(e.customer, "the web font", `document.fonts.check('22px BankFont')`, 10*time.Second)
	check("site/webfont.html")

	// Web components: an open shadow root is shown; a closed one becomes a
	// box of its size, so nothing below it moves.
	e.run(e.customer, chromedp.Navigate(siteURL+"/shadow.html"))
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	check("site/shadow.html")
	below := evalAs[float64](e, e.customer, `document.getElementById('below-cards').getBoundingClientRect().top`)
	if got := evalAs[float64](e, e.staff, staffDoc+`.getElementById('below-cards').getBoundingClientRect().top`); got != below {
		t.Errorf("text below a closed shadow root is at %v for staff, %v for the customer", got, below)
	}
	if !evalAs[bool](e, e.staff, `(`+staffDoc+`.getElementById('open-card').shadowRoot?.textContent || '').includes('An open shadow root')`) {
		t.Error("the open shadow root's content is missing from the staff view")
	}

	// A menu that opens on hover: the customer's mouse over it opens it for staff too.
	e.run(e.customer, chromedp.Navigate(siteURL+"/menu.html"))
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	e.waitJS(e.staff, "the menu page", staffDoc+`?.getElementById('menu-title')`, 10*time.Second)
	pos := evalAs[[]float64](e, e.customer, `(() => { const r = document.getElementById('menu-title').getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	// A person's mouse moves on over the menu; rrweb samples the moves.
	for i := range 6 {
		e.run(e.customer, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, pos[0]-10+float64(i)*4, pos[1]))
		time.Sleep(60 * time.Millisecond)
	}
	e.waitJS(e.customer, "the menu open for the customer", `getComputedStyle(document.querySelector('#menu .items')).display === 'block'`, 5*time.Second)
	e.waitJS(e.staff, "the menu open for staff", `getComputedStyle(`+staffDoc+`.querySelector('#menu .items')).display === 'block'`, 10*time.Second)
	check("site/menu.html (open)")

	// Phones: a page with a viewport meta tag, and one without (laid out 980 px wide).
	e.sizeTab(e.customer, 390, 844, 1, true)
	// Room for a 980 × 2121 layout at scale 1 on the staff's side.
	e.sizeTab(e.staff, 1900, 2600, 1, false)
	e.run(e.customer, chromedp.Navigate(siteURL+"/menu.html"))
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	check("phone/menu.html")
	e.run(e.customer, chromedp.Navigate(siteURL+"/no-viewport.html"))
	e.waitJS(e.customer, "the banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	if w := evalAs[float64](e, e.customer, `innerWidth`); w != 980 {
		t.Fatalf("a phone lays the page out %v wide, expected 980", w)
	}
	check("phone/no-viewport.html, zoomed out")
	if !evalAs[bool](e, e.staff, staffDoc+`.fonts.check('22px BankFont')`) {
		t.Error("the staff view did not load the site's web font")
	}
}

// A customer who pinch-zooms on a phone sees only part of the page: the
// staff view follows that part, or shows it as a frame over the whole page.
func TestStaffFollowThePinchZoom(t *testing.T) {
	e := mustStart(t)
	e.staffTalksToTomoniOnly(t)
	e.sizeTab(e.customer, 390, 844, 2, true)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)
	if z := evalAs[string](e, e.staff, `document.querySelector('#view').dataset.zoom || ''`); z != "" {
		t.Fatalf("zoom %q before any pinch", z)
	}
	if evalAs[bool](e, e.staff, `Boolean(document.querySelector('[data-testid=tool-follow]'))`) {
		t.Error("the follow button shows while the customer is not zoomed in")
	}
	if _, err := chromedp.Call(e.customer, emulation.SetPageScaleFactor, emulation.SetPageScaleFactorParams{PageScaleFactor: 2}); err != nil {
		t.Fatal(err)
	}
	e.waitJS(e.customer, "the customer's pinch-zoom", `visualViewport.scale > 1.9`, 5*time.Second)
	vv := evalAs[[]float64](e, e.customer, `[visualViewport.offsetLeft, visualViewport.offsetTop, visualViewport.width, visualViewport.height]`)
	e.waitJS(e.staff, "the staff view to follow the zoom", `Number(document.querySelector('#view').dataset.zoom) > 1.9`, 10*time.Second)
	// Following: the replay is scaled to the visual viewport and shifted to its offset.
	tr := evalAs[string](e, e.staff, `document.querySelector('#view .replayer-wrapper').style.transform`)
	if !strings.Contains(tr, "translate(") {
		t.Errorf("the replay is not moved to the zoomed part: transform %q", tr)
	}
	stage := evalAs[[]float64](e, e.staff, `(() => { const s = document.querySelector('#view .stage').getBoundingClientRect(); return [s.width, s.height]; })()`)
	if ratio, want := stage[0]/stage[1], vv[2]/vv[3]; ratio < want*0.98 || ratio > want*1.02 {
		t.Errorf("the view shows a %.3f-wide part, the customer sees %.3f (visual viewport %v)", ratio, want, vv)
	}
	if !evalAs[bool](e, e.staff, `document.querySelector('#view .visual-frame').hidden`) {
		t.Error("a frame is drawn while the view follows the zoom")
	}
	// Not following: the whole page, with the customer's part framed.
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=tool-follow]`)))
	e.waitJS(e.staff, "the frame over the whole page", `!document.querySelector('#view .visual-frame').hidden`, 5*time.Second)
	frame := evalAs[[]float64](e, e.staff, `(() => { const f = document.querySelector('#view .visual-frame').getBoundingClientRect(); const s = document.querySelector('#view .stage').getBoundingClientRect(); return [f.width / s.width, f.height / s.height]; })()`)
	if frame[0] < 0.45 || frame[0] > 0.55 || frame[1] < 0.45 || frame[1] > 0.55 {
		t.Errorf("the frame covers %.2f × %.2f of the page; a 2× zoom shows half of each side", frame[0], frame[1])
	}

	// In pixels: the part the customer sees, as the customer's screen shows
	// it and as the staff view shows it when following, at the same size.
	// Measured 0.992–0.995: the phone zooms in its compositor while the
	// view is drawn at a device scale, and lines of bold text land a pixel
	// row apart; every other pixel matches.
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=tool-follow]`)))
	e.waitJS(e.staff, "the view to follow again", `document.querySelector('#view .visual-frame').hidden`, 5*time.Second)
	// Further down the page, where the customer scrolled to.
	e.exec(e.customer, `window.scrollTo(0, 300)`)
	e.waitJS(e.customer, "the customer's scroll", `Math.round(visualViewport.pageTop) === 300`, 5*time.Second)
	e.waitJS(e.staff, "the staff view to follow it", `document.querySelector('#view-info').dataset.scrollY === '300' && document.querySelector('#view iframe').contentWindow.scrollY === 300`, 10*time.Second)
	sim := e.comparePinched(t)
	t.Logf("fidelity %-28s %.4f", "phone/index.html, pinched 2×", sim)
	if sim < 0.985 {
		t.Errorf("the zoomed-in part matches %.4f of the customer's pixels, want ≥ 0.985", sim)
	}
}

// The field the customer is in is the focused field in the staff view too,
// with the page's :focus styling, also after a fresh snapshot.
func TestFocusedFieldIsFocusedForStaff(t *testing.T) {
	e, check := startFidelity(t)
	for _, tab := range []context.Context{e.staff, e.customer} {
		// Both tabs behave as if their window had the focus, as each does on its own screen.
		if _, err := chromedp.Call(tab, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	e.join("login.html")
	e.waitStaffSees("インターネットバンキング ログイン", 3*time.Second)
	e.run(e.customer, chromedp.Click(chromedp.CSS("#login-id")))
	want := evalAs[string](e, e.customer, `(() => { const s = getComputedStyle(document.activeElement); return document.activeElement.id + ' ' + s.outlineStyle + ' ' + s.outlineColor; })()`)
	if !strings.HasPrefix(want, "login-id ") || strings.Contains(want, " none ") {
		t.Fatalf("the customer's focused field: %q", want)
	}
	focused := `(() => { const d = ` + staffDoc + `; const a = d?.activeElement; if (!a) return ''; const s = getComputedStyle(a); return a.id + ' ' + s.outlineStyle + ' ' + s.outlineColor; })()`
	e.waitJS(e.staff, "the focused field in the staff view ("+want+")", focused+` === `+jsString(want), 10*time.Second)

	// In pixels: the page as a whole, and the ring around the focused field
	// (the field itself is left out of the page comparison: its value is masked).
	check("login.html, field focused")
	box := evalAs[[]float64](e, e.customer, `(() => { const r = document.querySelector('#login-id').getBoundingClientRect(); return [r.left, r.top, r.width, r.height, innerWidth, innerHeight]; })()`)
	v := e.capture(t, "login.html, focus ring", chromiumCustomer{e, e.customer})
	only := ring(box, 5, 3)
	sim := e.sim(t, v.customer, v.staff, only)
	t.Logf("fidelity %-28s %.4f", "focus ring of #login-id", sim)
	if sim < 0.98 {
		keepShots("focus ring", map[string][]byte{"customer": v.customer, "staff": v.staff})
		t.Errorf("the ring around the focused field matches %.4f of the customer's pixels, want ≥ 0.98", sim)
	}

	// After the staff's console reconnects it gets a fresh snapshot; the focus comes with it.
	e.setOffline(e.staff, true)
	e.waitJS(e.staff, "the console to notice", `document.querySelector('#session-state').dataset.phase === 'reconnecting'`, 10*time.Second)
	e.setOffline(e.staff, false)
	e.waitStaffSees("インターネットバンキング ログイン", 10*time.Second)
	e.waitJS(e.staff, "the focus after a fresh snapshot", focused+` === `+jsString(want), 10*time.Second)

	// The ring shows the focus: without it, the same pixels differ.
	e.exec(e.customer, `document.activeElement.blur()`)
	e.waitJS(e.customer, "the field to lose the focus", `document.activeElement === document.body`, 5*time.Second)
	blurred := screenshot(t, e.customer, nil)
	if without := e.sim(t, blurred, v.staff, only); without > 0.9 {
		t.Errorf("the ring compares %.4f without the focus: it does not show whether the field is focused", without)
	}
}

// comparePinched compares a pinch-zoomed customer's screen with the staff
// view that follows it. Rectangles of Tomoni's own UI are taken in the
// layout viewport and moved into the visual one.
func (e *env) comparePinched(t *testing.T) float64 {
	t.Helper()
	evalAs[bool](e, e.customer, settled+`(document)`, chromedp.EvalAwaitPromise)
	evalAs[bool](e, e.staff, settled+`(`+staffDoc+`)`, chromedp.EvalAwaitPromise)
	var m struct {
		VV      []float64 // offset x, y, scale, device pixel ratio
		Exclude []rect
	}
	raw := evalAs[json.RawMessage](e, e.customer, `(() => {
		const vv = visualViewport, k = vv.scale * devicePixelRatio;
		const ex = [];
		document.querySelector('tomoni-ui')?.shadowRoot?.querySelectorAll('[data-tomoni]').forEach((el) => {
			const r = el.getBoundingClientRect();
			if (r.width && r.height) ex.push({X: (r.left - vv.offsetLeft - 20) * k, Y: (r.top - vv.offsetTop - 20) * k, W: (r.width + 40) * k, H: (r.height + 40) * k});
		});
		return {VV: [vv.offsetLeft, vv.offsetTop, vv.scale, devicePixelRatio], Exclude: ex};
	})()`)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	cust := screenshot(t, e.customer, nil)
	size := evalAs[[]float64](e, e.customer, `[innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]`)
	// The staff view of the same part at scale 1 (as the other comparisons
	// take it), captured at the customer's zoom times pixel ratio.
	st := evalAs[[]float64](e, e.staff, `(() => {
		document.querySelectorAll('.replayer-mouse, .replayer-mouse-tail, #view .overlay').forEach((m) => m.style.display = 'none');
		const w = document.querySelector('#view .replayer-wrapper');
		const m = /translate\(([-0-9.]+)px, ([-0-9.]+)px\)/.exec(w.style.transform);
		w.style.transform = m ? 'translate(' + m[1] + 'px, ' + m[2] + 'px)' : 'none';
		const r = document.querySelector('#view .stage').getBoundingClientRect();
		return [r.left, r.top];
	})()`)
	evalAs[bool](e, e.staff, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)
	k := m.VV[2] * m.VV[3]
	staff := screenshot(t, e.staff, &page.Viewport{X: st[0], Y: st[1], Width: size[0] / k, Height: size[1] / k, Scale: k})
	// The view is drawn at another scale than the customer's screen: its
	// pixel grid may sit up to a pixel off, so the best of those alignments counts.
	sim, err := e.similarityWithin(cust, staff, m.Exclude, 24, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sim < 0.995 || os.Getenv("TOMONI_FIDELITY_SHOTS") != "" {
		keepShots("phone_pinched", map[string][]byte{"customer": cust, "staff": staff})
	}
	return sim
}

// ring leaves out everything but a band around a box (x, y, w, h, then the
// viewport's w and h): out pixels outside it, in pixels inside its edge.
func ring(b []float64, out, in float64) []rect {
	x, y, w, h, vw, vh := b[0], b[1], b[2], b[3], b[4], b[5]
	return []rect{
		{0, 0, vw, y - out},                   // above
		{0, y + h + out, vw, vh},              // below
		{0, y - out, x - out, h + 2*out},      // left
		{x + w + out, y - out, vw, h + 2*out}, // right
		{x + in, y + in, w - 2*in, h - 2*in},  // the field's inside
	}
}

// A phone page made for desktops (no viewport meta) is laid out 980 px
// wide and very tall; the staff see it at a readable scale, scrolling,
// rather than fitted whole at a third of its size.
func TestDesktopPageOnAPhoneIsReadableForStaff(t *testing.T) {
	e := mustStart(t)
	siteURL, _ := startCDNSite(t, e)
	e.sizeTab(e.customer, 390, 844, 1, true)
	e.staffLogin()
	e.joinAt(siteURL + "/no-viewport.html")
	e.waitStaffSees("A page without a viewport meta tag", 5*time.Second)
	e.waitJS(e.staff, "a readable scale", `(() => { const st = document.querySelector('#view .stage').getBoundingClientRect(); return st.width / 980 >= 0.5 && document.querySelector('#view').classList.contains('scrolls'); })()`, 10*time.Second)
	// The view scrolls to the rest of the page.
	if !evalAs[bool](e, e.staff, `(() => { const v = document.querySelector('#view'); return v.scrollHeight > v.clientHeight; })()`) {
		t.Error("the staff view cannot scroll to the rest of the page")
	}
}
