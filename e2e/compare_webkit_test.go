package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The customer in WebKit, the engine of Safari on iPhone and iPad: Debian's
// WebKitWebDriver drives MiniBrowser (WebKitGTK) on a virtual X display,
// over the W3C WebDriver protocol. The staff stay in Chromium.

const miniBrowser = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"

// webkitDisplay is one Xvfb for the whole test binary, started on first use.
var webkitDisplay struct {
	once    sync.Once
	display string
	cmd     *exec.Cmd
	err     error
}

// stopXvfb ends the virtual display, if a test started one.
func stopXvfb() {
	if c := webkitDisplay.cmd; c != nil {
		c.Process.Kill()
		c.Wait()
	}
}

func xDisplay(t *testing.T) string {
	t.Helper()
	webkitDisplay.once.Do(func() {
		if _, err := exec.LookPath("Xvfb"); err != nil {
			webkitDisplay.err = fmt.Errorf("Xvfb is needed for the WebKit tests: install Debian's xvfb package")
			return
		}
		for n := 90 + os.Getpid()%100; n < 400; n++ {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
				continue
			}
			cmd := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-screen", "0", "1280x900x24", "-nolisten", "tcp")
			if err := cmd.Start(); err != nil {
				webkitDisplay.err = err
				return
			}
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
					webkitDisplay.display = fmt.Sprintf(":%d", n)
					webkitDisplay.cmd = cmd
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Kill()
		}
		webkitDisplay.err = fmt.Errorf("no X display could be started")
	})
	if webkitDisplay.err != nil {
		t.Fatal(webkitDisplay.err)
	}
	return webkitDisplay.display
}

// webkit is one MiniBrowser session.
type webkit struct {
	t       *testing.T
	base    string // http://127.0.0.1:port/session/id
	display string
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newWebKit starts WebKitWebDriver and a MiniBrowser session for this test.
func newWebKit(t *testing.T) *webkit {
	t.Helper()
	if _, err := exec.LookPath("WebKitWebDriver"); err != nil {
		t.Fatal("WebKitWebDriver is needed for the WebKit tests: install Debian's webkit2gtk-driver package")
	}
	display := xDisplay(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	driver := exec.CommandContext(ctx, "WebKitWebDriver", "--port="+strconv.Itoa(port))
	// Without a GPU, WebKit's accelerated compositing renders through a
	// software GL that costs far more CPU than its plain drawing.
	driver.Env = append(os.Environ(), "DISPLAY="+display, "WEBKIT_DISABLE_COMPOSITING_MODE=1")
	if err := driver.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); driver.Wait() })
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	caps := `{"capabilities":{"alwaysMatch":{"browserName":"MiniBrowser","webkitgtk:browserOptions":{"binary":"` + miniBrowser + `","args":["--automation"]}}}}`
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := wdCall(http.MethodPost, root+"/session", caps, &sess)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("start a WebKit session: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	w := &webkit{t: t, base: root + "/session/" + sess.SessionID, display: display}
	t.Cleanup(func() { wdCall(http.MethodDelete, w.base, "", nil) })
	return w
}

func wdCall(method, url, body string, out any) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("webdriver %s: %s", res.Status, b)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("webdriver %s: %s", res.Status, env.Value)
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

func (w *webkit) call(method, path string, body any, out any) {
	w.t.Helper()
	b := ""
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		b = string(j)
	}
	if err := wdCall(method, w.base+path, b, out); err != nil {
		w.t.Fatalf("WebKit %s %s: %v", method, path, err)
	}
}

func (w *webkit) navigate(url string) {
	w.t.Helper()
	w.call(http.MethodPost, "/url", map[string]string{"url": url}, nil)
}

// eval runs a script body (a function body: use return) in the page.
func evalWK[T any](w *webkit, body string, args ...any) T {
	w.t.Helper()
	if args == nil {
		args = []any{}
	}
	var v T
	w.call(http.MethodPost, "/execute/sync", map[string]any{"script": body, "args": args}, &v)
	return v
}

// waitJS polls an expression in the page until it is truthy.
func (w *webkit) waitJS(what, expr string, timeout time.Duration) {
	w.t.Helper()
	timeout = max(timeout, 15*time.Second)
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := wdCall(http.MethodPost, w.base+"/execute/sync", mustMarshal(map[string]any{"script": "try { return Boolean(" + expr + "); } catch (e) { return false; }", "args": []any{}}), &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("WebKit: timed out after %s waiting for %s (last error: %v)", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// typeInto types text into the element matched by a CSS selector, as a person does.
func (w *webkit) typeInto(selector, text string) {
	w.t.Helper()
	var el map[string]string
	w.call(http.MethodPost, "/element", map[string]string{"using": "css selector", "value": selector}, &el)
	var id string
	for _, v := range el {
		id = v
	}
	w.call(http.MethodPost, "/element/"+id+"/value", map[string]string{"text": text}, nil)
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// The core of a session with the customer in WebKit: join with a code and
// confirm the staff member, the page live for staff, typed values masked in
// the customer's browser, the staff's pointer on the customer's screen, the
// software keyboard pausing sharing, and the customer ending the session.
func TestWebKitCustomer(t *testing.T) {
	e := mustStart(t)
	wk := newWebKit(t)
	e.staffLogin()
	code := e.newCode()
	wk.navigate(e.app.DemoURL() + "/login.html")
	wk.waitJS("the SDK", "window.Tomoni", 20*time.Second)

	wk.joinWith(e, code)
	ui := `document.querySelector('tomoni-ui').shadowRoot`
	e.waitStaffSees("インターネットバンキング ログイン", 10*time.Second)

	// What the customer types stays in WebKit.
	wk.typeInto("#login-id", "webkit-login-4410")
	wk.typeInto("#login-password", "WebKit-Pa55word")
	e.waitJS(e.staff, "the masked ID field", staffDoc+`.querySelector('#login-id')?.value === '••••••'`, 10*time.Second)
	_, got := e.staffWS.snapshot()
	mustHaveCaptured(t, e.staffWS, "インターネットバンキング")
	if s, found := containsAny(got, "webkit-login-4410", "WebKit-Pa55word"); found {
		t.Errorf("staff received %q typed in WebKit", s)
	}
	if s := e.staffViewText() + evalAs[string](e, e.staff, `[...`+staffDoc+`.querySelectorAll('input')].map(i => i.value).join('|')`); strings.Contains(s, "webkit-login-4410") || strings.Contains(s, "WebKit-Pa55word") {
		t.Error("the staff view shows what was typed in WebKit")
	}

	// The staff's pointer shows on the customer's screen.
	e.exec(e.staff, `(() => {
		const f = document.querySelector('#view iframe'); const r = f.getBoundingClientRect(); const s = r.width / f.offsetWidth;
		const b = f.contentDocument.querySelector('#login-submit').getBoundingClientRect();
		document.querySelector('#view .overlay').dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: r.left + (b.left + b.width / 2) * s, clientY: r.top + (b.top + b.height / 2) * s }));
	})()`)
	wk.waitJS("the staff's pointer in WebKit", `Tomoni.pointerPosition() !== null`, 10*time.Second)
	pt := evalWK[[]float64](wk, `const p = Tomoni.pointerPosition(); const b = document.querySelector('#login-submit').getBoundingClientRect(); return [p.x, p.y, b.left, b.top, b.right, b.bottom];`)
	if pt[0] < pt[2] || pt[0] > pt[4] || pt[1] < pt[3] || pt[1] > pt[5] {
		t.Errorf("the pointer is at %v,%v in WebKit, not on the button %v", pt[0], pt[1], pt[2:])
	}

	// The software keyboard pauses sharing.
	wk.navigate(e.app.DemoURL() + "/transfer.html")
	wk.waitJS("the banner on the transfer page", ui+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 15*time.Second)
	e.waitStaffSees("振込先金融機関", 10*time.Second)
	evalWK[any](wk, `document.getElementById('pin-open').click(); return null;`)
	wk.waitJS("the pause in WebKit", `Tomoni.current.state === 'paused' && Tomoni.current.reason === 'secure_input'`, 5*time.Second)
	e.waitJS(e.staff, "the staff to see the pause", `document.querySelector('#session-state').dataset.phase === 'paused' && document.querySelector('#session-state').dataset.reason === 'secure_input'`, 10*time.Second)
	evalWK[any](wk, `document.querySelector('#keypad button[data-key="閉じる"]').click(); return null;`)
	e.waitJS(e.staff, "sharing to resume", `document.querySelector('#session-state').dataset.phase === 'live'`, 10*time.Second)

	// The customer ends it.
	evalWK[any](wk, ui+`.querySelector('[data-tomoni=end]').click(); return null;`)
	e.waitJS(e.staff, "ended by the customer", `document.querySelector('#session-state').dataset.phase === 'ended' && document.querySelector('#session-state').dataset.reason === 'customer'`, 10*time.Second)
}

// screenshot is the page's viewport as PNG.
func (w *webkit) screenshot() []byte {
	w.t.Helper()
	var b64 string
	w.call(http.MethodGet, "/screenshot", nil, &b64)
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// The staff view of a WebKit customer's screen, pixel for pixel. The staff
// browser is Chromium, and two engines draw the same page differently
// (WebKit snaps each line of text to whole pixels, so rows drift a pixel or
// two; glyph edges differ). So each page is held to two bounds that
// together say "as faithful as the engines allow": the staff view is what
// Chromium itself draws of that page (≥ 0.995), and it matches the WebKit
// screen as well as Chromium's own drawing of the page does (docs/fidelity.md).
func TestWebKitFidelity(t *testing.T) {
	webKitFidelity(t, func(e *env) string { return e.app.DemoURL() }, "index.html", "login.html", "account.html", "transfer.html")
}

// The test site's pages with the customer in WebKit: files on a CDN
// without CORS, a web font, shadow roots.
func TestWebKitFidelityOnOtherSites(t *testing.T) {
	webKitFidelity(t, func(e *env) string { site, _ := startCDNSite(t, e); return site }, "cdn-page.html", "webfont.html", "shadow.html")
}

// webKitFidelity joins on the first of pages (under the base URL site gives)
// with the customer in WebKit, then compares each page with the staff view,
// and both with the page opened directly in a Chromium tab of the
// customer's viewport size.
func webKitFidelity(t *testing.T, site func(e *env) string, pages ...string) {
	t.Helper()
	e := mustStart(t)
	e.staffTalksToTomoniOnly(t)
	// Room for MiniBrowser's taller viewport below the console's header:
	// a view cut off at the window's edge would count as different pixels.
	e.sizeTab(e.staff, 1400, 1200, 1, false)
	wk := newWebKit(t)
	wk.call(http.MethodPost, "/window/rect", map[string]int{"width": 1024, "height": 800}, nil)
	e.staffLogin()
	base := site(e)
	code := e.newCode()
	wk.navigate(base + "/" + pages[0])
	wk.waitJS("the SDK", "window.Tomoni", 20*time.Second)
	wk.joinWith(e, code)
	vw := evalWK[[]int64](wk, `return [innerWidth, innerHeight];`)
	direct, cancel := chromedp.NewContext(e.staff)
	defer cancel()
	e.sizeTab(direct, vw[0], vw[1], 1, false)
	for i, p := range pages {
		if i > 0 {
			wk.navigate(base + "/" + p)
		}
		wk.waitJS("the banner on "+p, `document.querySelector('tomoni-ui')?.shadowRoot.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 15*time.Second)
		wk.waitJS("the page's fonts and images", `document.fonts.status === 'loaded' && [...document.images].every((i) => i.complete)`, 10*time.Second)
		title := evalWK[string](wk, `return document.title;`)
		e.waitJS(e.staff, "the staff view of "+p, fmt.Sprintf(`%s?.title === %q`, staffDoc, title), 10*time.Second)
		name := "webkit/" + p
		v := e.capture(t, name, wk)

		// The same page drawn by Chromium itself.
		e.run(direct, chromedp.Navigate(base+"/"+p))
		e.waitJS(direct, "the page in Chromium", `document.fonts.status === 'loaded' && [...document.images].every((i) => i.complete)`, 10*time.Second)
		evalAs[bool](e, direct, settled+`(document)`, chromedp.EvalAwaitPromise)
		chromium := screenshot(t, direct, nil)
		both := append(excluded(t, chromiumCustomer{e, direct}, 1), v.exclude...)

		sim := e.sim(t, v.customer, v.staff, v.exclude)
		engines := e.sim(t, v.customer, chromium, v.exclude)
		replay := e.sim(t, chromium, v.staff, both)
		t.Logf("fidelity %-28s %.4f (Chromium's own drawing of the page: %.4f of WebKit's pixels; the staff view: %.4f of Chromium's)", name, sim, engines, replay)
		if replay < 0.995 || sim < engines-0.005 || os.Getenv("TOMONI_FIDELITY_SHOTS") != "" {
			keepShots(name, map[string][]byte{"customer": v.customer, "staff": v.staff, "chromium": chromium})
		}
		if replay < 0.995 {
			t.Errorf("%s: the staff view matches %.4f of Chromium's own drawing of the page the WebKit customer has, want ≥ 0.995", name, replay)
		}
		if sim < engines-0.005 {
			t.Errorf("%s: the staff view matches %.4f of the WebKit customer's pixels, Chromium's own drawing of the page %.4f: the replay lost something", name, sim, engines)
		}
	}
}

// sim compares two screenshots and stops the test when they cannot be compared.
func (e *env) sim(t *testing.T, a, b []byte, exclude []rect) float64 {
	t.Helper()
	v, err := e.similarity(a, b, exclude, 24)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// joinWith goes through consent and the code in WebKit, as the customer
// does; the staff in e admits the request with the check number WebKit
// shows; then the customer checks the staff name and sharing begins.
func (w *webkit) joinWith(e *env, code string) {
	w.t.Helper()
	ui := `document.querySelector('tomoni-ui').shadowRoot`
	evalWK[any](w, `document.querySelector('#share-button').click(); return null;`)
	w.waitJS("the consent dialog", ui+`.querySelector('[data-tomoni=agree]')`, 5*time.Second)
	evalWK[any](w, `const r = `+ui+`; r.querySelector('[data-tomoni=agree]').click(); r.querySelector('[data-tomoni=enter-code]').click(); return null;`)
	w.waitJS("the code field", ui+`.querySelector('[data-tomoni=code]')`, 5*time.Second)
	evalWK[any](w, `const r = `+ui+`; r.querySelector('[data-tomoni=code]').value = arguments[0]; r.querySelector('[data-tomoni=ok]').click(); return null;`, code)
	w.waitJS("the check number", ui+`.querySelector('[data-tomoni=check]')`, 10*time.Second)
	e.admit(code, evalWK[string](w, `return `+ui+`.querySelector('[data-tomoni=check]').textContent;`))
	w.waitJS("the staff-name confirmation", ui+`.querySelector('[data-tomoni=confirm]')`, 10*time.Second)
	if name := evalWK[string](w, `return `+ui+`.querySelector('[data-tomoni=staff-name] strong').textContent;`); name != staffName {
		w.t.Fatalf("WebKit shows staff name %q, want %q", name, staffName)
	}
	evalWK[any](w, ui+`.querySelector('[data-tomoni=confirm]').click(); return null;`)
	w.waitJS("the sharing banner", ui+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
}
