// Package e2e drives headless Chromium against the real Tomoni handlers: a
// customer tab on the demo bank and a staff tab on the console, in one
// browser.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/app"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/server"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
	"github.com/tomoni-cobrowse/tomoni/internal/streamdeflate"
)

const (
	staffUser = "sato"
	staffName = "佐藤"
	staffPass = "e2e-password-1"
)

// chromiumPath finds the browser; the suite fails (never skips) without one.
// Chromium's headless shell comes first: the same engine without the
// desktop browser's UI and compositing, it needs about half the CPU, which
// on a two-core machine halves the suite.
func chromiumPath() (string, error) {
	if p := os.Getenv("TOMONI_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found: install Debian's chromium-headless-shell (or chromium) package, or set TOMONI_CHROMIUM")
}

// browser is the one Chromium of this test binary. Each test gets a fresh
// browser context of it (its own cookies, storage and tabs), so tests are
// as isolated as with a browser each and start in milliseconds.
var browser struct {
	ctx context.Context
	err error
}

func TestMain(m *testing.M) {
	flag.Parse()
	// Browser tests mostly wait for the browser and the server; running
	// more of them at once than there are cores keeps both busy.
	if f := flag.Lookup("test.parallel"); f != nil && f.Value.String() == strconv.Itoa(runtime.GOMAXPROCS(0)) {
		f.Value.Set(strconv.Itoa(max(4, 2*runtime.GOMAXPROCS(0))))
	}
	cancel := startBrowser()
	code := m.Run()
	cancel()
	stopXvfb()
	os.Exit(code)
}

func startBrowser() (cancel func()) {
	path, err := chromiumPath()
	if err != nil {
		browser.err = err
		return func() {}
	}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("lang", "ja-JP"),
		// Staff and customers here use Japanese browsers: the console follows
		// the browser's language, and headless-shell takes it from this.
		chromedp.Flag("accept-lang", "ja-JP,ja"),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("start Chromium at %s: %w", path, err)
	}
	browser.ctx = ctx
	return func() {
		cancelBrowser()
		cancelAlloc()
	}
}

// syncBuffer collects the server's logs for the "nothing recorded" checks.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// frames records WebSocket payloads seen by one tab. A console's socket
// speaks the compressed stream (binary frames): what it received is
// recorded inflated, so every check of what staff heard reads the text.
type frames struct {
	mu       sync.Mutex
	sent     []string
	received []string
	open     int // sockets created and not yet closed
	created  int // sockets created in all
	// The compressed stream of each socket, by request id, and the bytes
	// its frames carried before and after inflating.
	streams          map[network.RequestID]*streamdeflate.Reader
	binary           int
	wireIn, inflated int
}

// inflate records a binary frame of socket id as the text it carries.
func (f *frames) inflate(id network.RequestID, b []byte) {
	if f.streams == nil {
		f.streams = map[network.RequestID]*streamdeflate.Reader{}
	}
	r := f.streams[id]
	if r == nil {
		r = new(streamdeflate.Reader)
		f.streams[id] = r
	}
	text, err := r.Next(b)
	if err != nil {
		// Recorded where every check of the frames will see it.
		f.received = append(f.received, fmt.Sprintf("BROKEN STREAM FRAME (%v): %x", err, b))
		return
	}
	f.binary++
	f.wireIn += len(b)
	f.inflated += len(text)
	f.received = append(f.received, string(text))
}

// sockets reports the tab's open sockets and how many it ever created.
func (f *frames) sockets() (open, created int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open, f.created
}

func (f *frames) snapshot() (sent, received []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...), append([]string(nil), f.received...)
}

type env struct {
	t        testing.TB
	app      *app.App // nil for a cluster: url, demoURL and store say where it is
	url      string   // where browsers reach Tomoni
	demoURL  string
	store    store.Store
	logs     *syncBuffer
	staff    context.Context
	customer context.Context
	staffWS  *frames
	custWS   *frames
	dataDir  string
	// compareTab is where screenshots are compared (see comparer).
	compareTab context.Context
}

type option func(*config.Config)

// mustStart runs a fresh server (temp database, :0 ports) and a browser with
// a staff tab and a customer tab.
//
// Every test that calls it runs in parallel with the others.
func mustStart(t *testing.T, opts ...option) *env {
	t.Helper()
	t.Parallel()
	return start(t, opts...)
}

// start is mustStart for a benchmark, which runs alone.
func start(t testing.TB, opts ...option) *env {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DemoAddr = "127.0.0.1:0"
	cfg.DemoIBAddr = "127.0.0.1:0"
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "debug"
	for _, o := range opts {
		o(&cfg)
	}
	logs := &syncBuffer{}
	a := app.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), io.Discard)
	a.HashParams = auth.Params{Memory: 8 * 1024, Time: 1, Threads: 1}
	ctx := context.Background()
	if err := a.Open(ctx); err != nil {
		t.Fatalf("start tomoni: %v", err)
	}
	if _, err := a.AddStaff(ctx, staffUser, staffName, staffPass, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}

	e := &env{t: t, app: a, url: a.URL(), demoURL: a.DemoURL(), store: a.Store, logs: logs, dataDir: cfg.DataDir}
	t.Cleanup(func() {
		a.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.String(), 4000))
		}
	})
	openTabs(t, e)
	return e
}

// openTabs gives e a staff tab and a customer tab in a browser context of
// their own (cookies, storage and tabs of this test only).
func openTabs(t testing.TB, e *env) {
	t.Helper()
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	staff, cancelStaff := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(staff); err != nil {
		cancelStaff()
		t.Fatalf("open a browser context: %v", err)
	}
	customer, cancelCustomer := chromedp.NewContext(staff)
	e.staff, e.customer, e.staffWS, e.custWS = staff, customer, &frames{}, &frames{}
	// Registered after the server's cleanup, so it runs first: the tabs
	// close before the server goes.
	t.Cleanup(func() {
		cancelCustomer()
		cancelStaff()
	})
	watchTab(t, staff, e.staffWS)
	watchTab(t, customer, e.custWS)
}

// watchTab records the tab's WebSocket frames and sockets into f, and
// asks for less motion, as a user might: the banner's dot stops blinking,
// which spares the shared machine a repaint every frame.
func watchTab(t testing.TB, tab context.Context, f *frames) {
	t.Helper()
	err := chromedp.Listen(tab, func(ev any) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventWebSocketFrameSent:
			f.sent = append(f.sent, string(ev.Response.PayloadData))
		case *network.EventWebSocketFrameReceived:
			if ev.Response.Opcode == 2 {
				f.inflate(ev.RequestID, ev.Response.PayloadData)
				break
			}
			f.received = append(f.received, string(ev.Response.PayloadData))
		case *network.EventWebSocketCreated:
			f.open++
			f.created++
		case *network.EventWebSocketClosed:
			f.open--
		}
	})
	if err != nil {
		t.Fatalf("start browser tab: %v", err)
	}
	if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enable network events: %v", err)
	}
	if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
	}); err != nil {
		t.Fatalf("emulate reduced motion: %v", err)
	}
}

// with returns the env reporting to a subtest's t.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// run executes actions in a tab with a deadline.
func (e *env) run(tab context.Context, actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		e.t.Fatalf("browser: %v", err)
	}
}

// evalAs evaluates JS in a tab and returns its value.
func evalAs[T any](e *env, tab context.Context, js string, opts ...chromedp.EvaluateOption) T {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		e.t.Fatalf("evaluate %.80q: %v", js, err)
	}
	return v
}

// exec evaluates JS for its effect.
func (e *env) exec(tab context.Context, js string) {
	e.t.Helper()
	e.run(tab, chromedp.Evaluate[chromedp.Void](js))
}

// waitJS polls a JS expression until it is truthy, failing after timeout.
//
// Timeouts are deadlines for something that must happen, not speed
// targets (benchmarks measure those): with tests running in parallel under
// the race detector, none is shorter than 15 s.
func (e *env) waitJS(tab context.Context, what, js string, timeout time.Duration) {
	e.t.Helper()
	timeout = max(timeout, 15*time.Second)
	deadline := time.Now().Add(timeout)
	// The page polls the expression itself, so a wait costs one DevTools
	// round trip rather than one every few milliseconds; a navigation ends
	// the page's poll with an error, and the loop starts it again on the
	// new page.
	poll := fmt.Sprintf(`new Promise((resolve) => {
		const until = Date.now() + %d;
		const tick = () => {
			let ok = false;
			try { ok = Boolean(%s); } catch (e) { ok = false; }
			if (ok || Date.now() > until) resolve(ok); else setTimeout(tick, 20);
		};
		tick();
	})`, 2000, js)
	for {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](poll, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, err)
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond) // between pages
		}
	}
}

// staffLogin gives the staff tab a login minted on the server side and
// opens the console: the login form itself is tested once, in
// TestCustomerJoinsAndStaffSeesPage.
func (e *env) staffLogin() {
	e.t.Helper()
	st, err := e.store.StaffByUsername(context.Background(), staffUser)
	if err != nil {
		e.t.Fatal(err)
	}
	e.openConsoleAs(e.staff, st.ID)
}

// openConsoleAs mints a login for the account staffID on the server side,
// gives tab its cookie and opens the console there.
func (e *env) openConsoleAs(tab context.Context, staffID int64) {
	e.t.Helper()
	tok, err := auth.NewToken()
	if err != nil {
		e.t.Fatal(err)
	}
	csrf, err := auth.NewToken()
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	if err := e.store.CreateLogin(context.Background(), store.Login{TokenHash: auth.HashToken(tok), StaffID: staffID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, network.SetCookie, network.SetCookieParams{
		Name: server.CookieName, Value: tok, URL: e.url + "/", HTTPOnly: new(true), SameSite: network.CookieSameSiteStrict,
	}); err != nil {
		e.t.Fatalf("set the login cookie: %v", err)
	}
	e.run(tab,
		chromedp.Navigate(e.url+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#new-session")),
	)
}

// staffLoginThroughForm logs in as a person does, through the console's form.
func (e *env) staffLoginThroughForm() {
	e.t.Helper()
	e.run(e.staff,
		chromedp.Navigate(e.app.URL()+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), staffUser),
		chromedp.SendKeys(chromedp.CSS("#login-password"), staffPass),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#new-session")),
	)
}

// newCode creates a session in the console and returns its code.
func (e *env) newCode() string {
	e.t.Helper()
	before := evalAs[string](e, e.staff, `document.querySelector('#session-code')?.textContent || ''`)
	e.run(e.staff, chromedp.Click(chromedp.CSS("#new-session")))
	e.waitJS(e.staff, "a new code", fmt.Sprintf(`(document.querySelector('#session-code')?.textContent || '') !== %q && document.querySelector('#session-code')`, before), 5*time.Second)
	code := evalAs[string](e, e.staff, `document.querySelector('#session-code').textContent.replace(/\s/g, '')`)
	if len(code) != 6 {
		e.t.Fatalf("console shows code %q", code)
	}
	return code
}

const shadow = `document.querySelector('tomoni-ui').shadowRoot`

// openCustomer loads a demo page and waits for the SDK.
func (e *env) openCustomer(page string) {
	e.t.Helper()
	e.run(e.customer, chromedp.Navigate(e.demoURL+"/"+page))
	e.waitJS(e.customer, "the SDK", `window.Tomoni`, 10*time.Second)
}

// enterCode goes through consent and types code into the dialog. A right
// code places a join request: the staff admits the request whose check
// number the customer's screen shows, and the customer confirms the staff
// name. It returns the dialog's error code (its data-code: invalid_code,
// busy, …), or "" once the customer confirmed the staff name.
func (e *env) enterCode(code string) string {
	e.t.Helper()
	check, problem := e.requestJoin(code)
	if problem != "" {
		return problem
	}
	e.admit(code, check)
	e.waitJS(e.customer, "the staff-name confirmation", shadow+`.querySelector('[data-tomoni=confirm]')`, 10*time.Second)
	// Before anything is shared, the customer checks the staff member's name.
	if name := evalAs[string](e, e.customer, shadow+`.querySelector('[data-tomoni=staff-name] strong').textContent`); name != staffName {
		e.t.Fatalf("confirmation shows staff name %q, want %q", name, staffName)
	}
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=confirm]').click()`)
	return ""
}

// requestJoin goes through consent and types code, returning the check
// number the customer's screen then shows, or the dialog's error code.
func (e *env) requestJoin(code string) (check, problem string) {
	e.t.Helper()
	// A script click: an open dialog's backdrop would swallow a real one.
	e.exec(e.customer, `document.querySelector('#share-button').click()`)
	e.waitJS(e.customer, "the consent dialog", shadow+`.querySelector('[data-tomoni=agree]')`, 5*time.Second)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=agree]').click()`)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=enter-code]').click()`)
	e.waitJS(e.customer, "the code field", shadow+`.querySelector('[data-tomoni=code]')`, 5*time.Second)
	e.run(e.customer, chromedp.SendKeys(chromedp.JSPath(shadow+`.querySelector('[data-tomoni=code]')`), code))
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=ok]').click()`)
	e.waitJS(e.customer, "the join answer", shadow+`.querySelector('[data-tomoni=check]') || `+shadow+`.querySelector('[data-tomoni=error]')?.dataset.code !== 'connecting'`, 10*time.Second)
	if check := evalAs[string](e, e.customer, ``+shadow+`.querySelector('[data-tomoni=check]')?.textContent || ''`); check != "" {
		// Nothing of the staff is shown before the admission.
		if strings.Contains(evalAs[string](e, e.customer, shadow+`.textContent`), staffName) {
			e.t.Fatal("the staff name is shown before the staff admitted the request")
		}
		return check, ""
	}
	return "", evalAs[string](e, e.customer, `(`+shadow+`.querySelector('[data-tomoni=error]')?.dataset.code) || 'none'`)
}

// admit opens the session of code in the console, waits for the join
// request showing check, and admits it.
func (e *env) admit(code, check string) {
	e.t.Helper()
	if shown := evalAs[string](e, e.staff, `(document.querySelector('#session-code')?.textContent || '').replace(/\s/g, '')`); shown != code {
		open := fmt.Sprintf(`[...document.querySelectorAll('#session-list li')].find((li) => (li.querySelector('.code')?.textContent || '').replace(/\s/g, '') === %q)`, code)
		e.waitJS(e.staff, "the session in the list", open, 10*time.Second)
		e.exec(e.staff, open+`.click()`)
	}
	sel := fmt.Sprintf(`document.querySelector('#join-requests li[data-check="%s"] [data-testid=request-admit]')`, check)
	e.waitJS(e.staff, "the join request "+check, sel, 10*time.Second)
	e.exec(e.staff, sel+`.click()`)
}

// join runs the whole customer flow on page and waits until the staff view shows content.
func (e *env) join(page string) {
	e.t.Helper()
	code := e.newCode()
	e.openCustomer(page)
	if msg := e.enterCode(code); msg != "" {
		e.t.Fatalf("join with a fresh code failed: %q", msg)
	}
	e.waitJS(e.customer, "the sharing banner", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 5*time.Second)
}

// staffDoc is the replayed document in the console.
const staffDoc = `document.querySelector('#view iframe')?.contentDocument`

// staffViewText is the text the staff can see of the customer's page.
func (e *env) staffViewText() string {
	return evalAs[string](e, e.staff, `(`+staffDoc+`?.body?.innerText) || ''`)
}

// waitStaffSees waits until the staff view contains text.
func (e *env) waitStaffSees(text string, timeout time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	e.waitJS(e.staff, "staff view to show "+text, fmt.Sprintf(`(%s?.body?.innerText || '').includes(%q)`, staffDoc, text), timeout)
	return time.Since(start)
}

// mustHaveCaptured fails the test unless the frames recorded in a tab hold
// needle: a check that something is absent from the frames means nothing
// unless the recording is shown to work.
func mustHaveCaptured(t *testing.T, f *frames, needle string) {
	t.Helper()
	sent, received := f.snapshot()
	if _, ok := containsAny(append(sent, received...), needle); !ok {
		t.Fatalf("frame capture is not working: no recorded frame holds %q (%d sent, %d received)", needle, len(sent), len(received))
	}
}

func containsAny(haystack []string, needles ...string) (string, bool) {
	for _, h := range haystack {
		for _, n := range needles {
			if containsSecret(h, n) {
				return n, true
			}
		}
	}
	return "", false
}

// containsSecret reports whether s holds secret. A secret of digits counts
// only where no digit touches it: "9876" typed by a customer shows as
// "は9876で" or "\"9876\"" if it leaks, while a timestamp such as
// 1795959876123 holds it by chance.
func containsSecret(s, secret string) bool {
	if strings.Trim(secret, "0123456789") != "" {
		return strings.Contains(s, secret)
	}
	digit := func(i int) bool { return i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' }
	for from := 0; ; {
		i := strings.Index(s[from:], secret)
		if i < 0 {
			return false
		}
		i += from
		if !digit(i-1) && !digit(i+len(secret)) {
			return true
		}
		from = i + 1
	}
}

// testutilCount reads one series from /metrics (0 when absent).
func testutilCount(t *testing.T, e *env, series string) float64 {
	t.Helper()
	res, err := http.Get(e.app.MetricsURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// sizeTab gives a tab a viewport of w×h CSS pixels (a phone's, when mobile).
func (e *env) sizeTab(tab context.Context, w, h int64, scale float64, mobile bool) {
	e.t.Helper()
	if _, err := chromedp.Call(tab, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: w, Height: h, DeviceScaleFactor: scale, Mobile: mobile}); err != nil {
		e.t.Fatalf("size a tab: %v", err)
	}
}

// joinAt opens url in the customer's tab and joins with a fresh code.
func (e *env) joinAt(url string) {
	e.t.Helper()
	code := e.newCode()
	e.run(e.customer, chromedp.Navigate(url))
	e.waitJS(e.customer, "the SDK", `window.Tomoni`, 10*time.Second)
	if msg := e.enterCode(code); msg != "" {
		e.t.Fatalf("join at %s: %q", url, msg)
	}
}

// requestLog records the URL of every request a tab makes.
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

// recordRequests starts recording the staff tab's requests.
func (e *env) recordRequests() *requestLog {
	e.t.Helper()
	l := &requestLog{}
	if err := chromedp.Listen(e.staff, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			l.mu.Lock()
			l.urls = append(l.urls, r.Request.URL)
			l.mu.Unlock()
		}
	}); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// assertTomoniOnly fails the test for every recorded request that did not
// go to the Tomoni server (or stay inside the browser), and returns how many
// page files came through Tomoni's asset paths.
func (l *requestLog) assertTomoniOnly(t *testing.T, e *env) (assets int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.urls) == 0 {
		t.Fatal("no staff request recorded: request capture is not working")
	}
	for _, u := range l.urls {
		switch {
		case strings.HasPrefix(u, e.app.URL()+"/"):
			if strings.Contains(u, "/assets/") {
				assets++
			}
		case strings.HasPrefix(u, "data:"), strings.HasPrefix(u, "about:"):
		default:
			t.Errorf("the staff browser requested %s", u)
		}
	}
	return assets
}

func (l *requestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.urls, "\n")
}

func TestContainsSecretIgnoresDigitsInsideLongerNumbers(t *testing.T) {
	for _, tc := range []struct {
		s, secret string
		want      bool
	}{
		{`{"timestamp":1795959876123}`, "9876", false},
		{`暗証番号は9876です`, "9876", true},
		{`{"text":"9876"}`, "9876", true},
		{`{"x":1,"v":"12 9876"}`, "9876", true},
		{`{"ts":19876,"t":"9876x"}`, "9876", true},
		{`Pa55word!Secret`, "Pa55word!Secret", true},
	} {
		if got := containsSecret(tc.s, tc.secret); got != tc.want {
			t.Errorf("containsSecret(%q, %q) = %v, want %v", tc.s, tc.secret, got, tc.want)
		}
	}
}
