package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/config"
)

// The staff creates a session, the customer agrees and enters the code, and
// the staff view shows the customer's page.
func TestCustomerJoinsAndStaffSeesPage(t *testing.T) {
	e := mustStart(t)
	e.staffLoginThroughForm()
	// Visitors who never share load only the small entry script.
	e.openCustomer("index.html")
	loadedCapture := `performance.getEntriesByType('resource').some(r => r.name.endsWith('/sdk-capture.js'))`
	if evalAs[bool](e, e.customer, loadedCapture) {
		t.Fatal("the recorder was loaded before any session")
	}
	e.join("index.html")
	took := e.waitStaffSees("くらしに、そっと寄りそう銀行。", 2*time.Second)
	if !evalAs[bool](e, e.customer, loadedCapture) {
		t.Error("the recorder did not come from sdk-capture.js")
	}
	t.Logf("staff view showed the heading %s after the customer's banner went live", took)

	// The console says so, in Japanese by default.
	if phase := evalAs[string](e, e.staff, `document.querySelector('#session-state').dataset.phase`); phase != "live" {
		t.Errorf("console phase %q, want live", phase)
	}
	if state := evalAs[string](e, e.staff, `document.querySelector('#session-state').textContent`); state != "共有中" {
		t.Errorf("console status reads %q, want 共有中", state)
	}
	if info := evalAs[string](e, e.staff, `(({device, width, scrollX, scrollY}) => [device, width, scrollX, scrollY].join(' '))(document.querySelector('#view-info').dataset)`); info != "pc 1280 0 0" {
		t.Errorf("view info says %q, want device pc, width 1280, scroll 0,0", info)
	}
	// And says it in Japanese.
	info := evalAs[string](e, e.staff, `document.querySelector('#view-info').textContent`)
	for _, want := range []string{"端末: PC", "画面: 1280×", "スクロール: 0, 0"} {
		if !strings.Contains(info, want) {
			t.Errorf("view info %q lacks %q", info, want)
		}
	}
	// The console hears the session as one compressed stream: every frame
	// binary, every one inflating to a message, and fewer bytes on the wire.
	e.staffWS.mu.Lock()
	binary, text, wire, inflated := e.staffWS.binary, len(e.staffWS.received)-e.staffWS.binary, e.staffWS.wireIn, e.staffWS.inflated
	e.staffWS.mu.Unlock()
	t.Logf("console heard %d compressed frames: %d bytes on the wire for %d of text", binary, wire, inflated)
	if binary == 0 || text != 0 {
		t.Errorf("console heard %d compressed and %d other frames; want the compressed stream only", binary, text)
	} else if float64(wire) > 0.7*float64(inflated) {
		t.Errorf("the stream carried %d bytes for %d of text", wire, inflated)
	}

	// The replay must never run the customer's scripts.
	sandbox := evalAs[string](e, e.staff, `document.querySelector('#view iframe').getAttribute('sandbox')`)
	if sandbox != "allow-same-origin" {
		t.Errorf("replay iframe sandbox %q, want exactly allow-same-origin", sandbox)
	}

	// A screenshot of the live console for the README.
	shot, err := chromedp.Run(e.staff, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("artifacts")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "console-live.png"), shot, 0o644)
	if os.Getenv("TOMONI_UPDATE_SCREENSHOT") != "" {
		if err := os.WriteFile(filepath.Join("..", "docs", "console-live.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// What the customer types into IDs, passwords and free text never leaves the
// customer's browser: not on the wire, not in the staff view, not on disk,
// not in the logs.
func TestTypedValuesNeverLeaveTheCustomersBrowser(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("login.html")
	e.waitStaffSees("インターネットバンキング ログイン", 3*time.Second)

	loginID, password, note := "yamada-login-7731", "Pa55word!Secret", "口座番号は7654321で暗証番号は9876です"
	// Before typing, the ID field is empty and looks empty to staff: its
	// placeholder is masked as blank, not as the mask of a filled field.
	e.waitJS(e.staff, "the empty ID field in the staff view", staffDoc+`?.querySelector('#login-id') && `+staffDoc+`.querySelector('#login-id').value === '' && `+staffDoc+`.querySelector('#login-id').getAttribute('placeholder') === ''`, 5*time.Second)
	e.run(e.customer,
		chromedp.SendKeys(chromedp.CSS("#login-id"), loginID),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
	)
	e.waitJS(e.staff, "masked ID and password in the staff view",
		staffDoc+`.querySelector('#login-id').value === '••••••' && `+staffDoc+`.querySelector('#login-password').value === '••••••'`, 3*time.Second)

	// The same session continues on the next page, where the customer writes free text.
	e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/index.html#contact"))
	e.waitStaffSees("お問い合わせ内容", 3*time.Second)
	e.run(e.customer, chromedp.SendKeys(chromedp.CSS("#contact-body"), note))
	e.waitJS(e.staff, "masked textarea in the staff view", staffDoc+`.querySelector('#contact-body').value === '••••••'`, 3*time.Second)

	secrets := []string{loginID, password, note, "7654321", "9876"}
	t.Run("not on the wire", func(t *testing.T) {
		e := e.with(t)
		custSent, _ := e.custWS.snapshot()
		_, staffGot := e.staffWS.snapshot()
		if len(custSent) == 0 || len(staffGot) == 0 {
			t.Fatalf("captured %d customer and %d staff frames: capture not working", len(custSent), len(staffGot))
		}
		if s, found := containsAny(custSent, secrets...); found {
			t.Errorf("customer browser sent %q", s)
		}
		if s, found := containsAny(staffGot, secrets...); found {
			t.Errorf("staff browser received %q", s)
		}
		if _, found := containsAny(staffGot, "••••••"); !found {
			t.Error("staff never received the masked placeholder: the fields were not captured at all")
		}
	})
	t.Run("not in the staff view", func(t *testing.T) {
		e := e.with(t)
		dom := evalAs[string](e, e.staff, staffDoc+`.documentElement.outerHTML + [...`+staffDoc+`.querySelectorAll('input,textarea')].map(i => i.value).join('|')`)
		for _, s := range secrets {
			if strings.Contains(dom, s) {
				t.Errorf("staff view DOM contains %q", s)
			}
		}
	})

	// End the session, stop the server so the database is flushed, then look
	// everywhere Tomoni writes.
	e.run(e.staff, chromedp.Click(chromedp.CSS("#end-session")))
	e.waitJS(e.customer, "the banner to go", `!`+shadow+`.querySelector('[data-tomoni=banner]')`, 3*time.Second)
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("not on disk or in logs", func(t *testing.T) {
		e := e.with(t)
		pageText := []string{"くらしに、そっと寄りそう銀行", "インターネットバンキング ログイン", "お問い合わせ内容", "login-id"}
		files := 0
		filepath.WalkDir(e.dataDir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range append(append([]string{}, secrets...), pageText...) {
				if strings.Contains(string(b), s) {
					t.Errorf("%s contains %q", path, s)
				}
			}
			return nil
		})
		if files == 0 {
			t.Fatal("no files in the data directory: the database was not written")
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "session") {
			t.Fatalf("server logged nothing about the session; log capture broken? %q", tail(logs, 300))
		}
		for _, s := range append(append([]string{}, secrets...), pageText...) {
			if strings.Contains(logs, s) {
				t.Errorf("server log contains %q", s)
			}
		}
	})
}

// The staff view follows the customer's scrolling and opening of a details element.
func TestStaffViewFollowsScrollAndDetails(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)

	e.exec(e.customer, `window.scrollTo(0, 400)`)
	e.waitJS(e.customer, "the customer's page to scroll", `scrollY > 300`, time.Second)
	y := evalAs[int](e, e.customer, `Math.round(scrollY)`)
	e.waitJS(e.staff, "the staff view to scroll as far", fmt.Sprintf(`Math.abs(%s.scrollingElement.scrollTop - %d) < 2`, staffDoc, y), 3*time.Second)
	e.waitJS(e.staff, "the info bar to show the scroll", fmt.Sprintf(`document.querySelector('#view-info').dataset.scrollY === '%d'`, y), 3*time.Second)

	if e.staffViewText() != "" && strings.Contains(e.staffViewText(), "担当者に見えるのは") {
		t.Fatal("details content visible before it was opened")
	}
	e.exec(e.customer, `document.querySelector('#faq-share summary').click()`)
	e.waitJS(e.staff, "the details to open in the staff view", staffDoc+`.querySelector('#faq-share').open`, 3*time.Second)
	e.waitStaffSees("担当者に見えるのは", 3*time.Second)
}

// The staff's pointer lands on the same element on the customer's screen,
// even when the customer has a phone and the staff a desktop.
func TestPointerLandsOnTheSameElement(t *testing.T) {
	e := mustStart(t)
	e.run(e.customer, chromedp.EmulateViewport(390, 844))
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)
	e.waitJS(e.staff, "device class phone", `document.querySelector('#view-info').dataset.device === 'phone' && document.querySelector('#view-info').dataset.width === '390'`, 3*time.Second)
	// The console shows how good the customer's link is (measured by the server's pings).
	e.waitJS(e.staff, "the link badge", `(() => { const b = document.querySelector('[data-testid=link-badge]'); return b && b.dataset.quality === 'good' && b.textContent.startsWith('通信: 良好'); })()`, 5*time.Second)

	const button = `.hero [data-action=share]`
	// Where the button is on the staff's screen: inside the scaled replay.
	// Where the button is on the staff's screen, once the view has held
	// still for 150 ms (the customer scrolls, the console re-renders).
	where := `new Promise((done) => {
		const at = () => {
			const f = document.querySelector('#view iframe');
			const r = f.getBoundingClientRect();
			const s = r.width / f.offsetWidth;
			const b = f.contentDocument.querySelector('` + button + `').getBoundingClientRect();
			return [r.left + (b.left + b.width * 0.3) * s, r.top + (b.top + b.height * 0.6) * s, s];
		};
		let last = '';
		const tick = () => { const p = at(); const k = JSON.stringify(p); if (k === last) done(p); else { last = k; setTimeout(tick, 150); } };
		tick();
	})`
	pt := evalAs[[]float64](e, e.staff, where, chromedp.EvalAwaitPromise)
	if pt[2] >= 1.5 || pt[2] <= 0 {
		t.Logf("replay scale %.2f", pt[2])
	}
	e.run(e.staff, chromedp.MouseEvent(chromedp.MouseMoved, pt[0], pt[1]))

	inButton := `(() => {
		const p = Tomoni.pointerPosition();
		if (!p) return false;
		const b = document.querySelector('` + button + `').getBoundingClientRect();
		return p.x >= b.left && p.x <= b.right && p.y >= b.top && p.y <= b.bottom;
	})()`
	e.waitJS(e.customer, "the 〇 inside the button", inButton, 3*time.Second)

	// It stays on the button when the customer scrolls.
	e.exec(e.customer, `window.scrollBy(0, 40)`)
	e.waitJS(e.customer, "the 〇 still inside the button after scrolling", inButton, 3*time.Second)
	// The staff view follows before anything else is drawn on it.
	sy := evalAs[int](e, e.customer, `Math.round(scrollY)`)
	e.waitJS(e.staff, "the staff view to follow the scroll", fmt.Sprintf(`document.querySelector('#view-info').dataset.scrollY === '%d'`, sy), 5*time.Second)

	// Leaving the view hides it.
	e.run(e.staff, chromedp.MouseEvent(chromedp.MouseMoved, 5, 5))
	e.waitJS(e.customer, "the 〇 to hide", `Tomoni.pointerPosition() === null`, 3*time.Second)

	// A highlight shows on both screens, on the same element; a second click turns it off on both.
	// (Where the button is now: the customer scrolled.)
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=tool-highlight]`)))
	pt = evalAs[[]float64](e, e.staff, where, chromedp.EvalAwaitPromise)
	e.run(e.staff, chromedp.MouseClickXY(pt[0], pt[1]))
	e.waitJS(e.customer, "the customer's highlight", shadow+`.querySelector('[data-tomoni=highlight]')`, 3*time.Second)
	e.waitJS(e.staff, "the staff's own highlight over the button", `(() => {
		const h = document.querySelector('[data-testid=own-highlight]');
		if (!h || h.hidden) return false;
		const r = h.getBoundingClientRect();
		const f = document.querySelector('#view iframe'); const fr = f.getBoundingClientRect(); const s = fr.width / f.offsetWidth;
		const b = f.contentDocument.querySelector('`+button+`').getBoundingClientRect();
		const cx = fr.left + (b.left + b.width / 2) * s, cy = fr.top + (b.top + b.height / 2) * s;
		return cx > r.left && cx < r.right && cy > r.top && cy < r.bottom;
	})()`, 3*time.Second)
	pt = evalAs[[]float64](e, e.staff, where, chromedp.EvalAwaitPromise)
	e.run(e.staff, chromedp.MouseClickXY(pt[0], pt[1]))
	e.waitJS(e.customer, "the customer's highlight to go", `!`+shadow+`.querySelector('[data-tomoni=highlight]')`, 3*time.Second)
	e.waitJS(e.staff, "the staff's highlight to go", `document.querySelector('[data-testid=own-highlight]').hidden`, 3*time.Second)

	// A pen stroke drawn over the button lands on the button on the customer's screen.
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=tool-pen]`)))
	pt = evalAs[[]float64](e, e.staff, where, chromedp.EvalAwaitPromise)
	e.run(e.staff,
		chromedp.MouseEvent(chromedp.MouseMoved, pt[0], pt[1]),
		chromedp.MouseEvent(chromedp.MousePressed, pt[0], pt[1], chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, pt[0]+4, pt[1]+2, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, pt[0]+8, pt[1]+3, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, pt[0]+8, pt[1]+3, chromedp.ButtonLeft))
	// (Read from what the overlay keeps of the last stroke: the line itself fades.)
	e.waitJS(e.customer, "the pen stroke on the button", `(() => {
		const last = (`+shadow+`.querySelector('[data-tomoni=strokes]')?.dataset.last || '').split(' ');
		if (last[0] !== 'pen') return false;
		const [x, y] = last[1].split(',').map(Number);
		const b = document.querySelector('`+button+`').getBoundingClientRect();
		return x >= b.left - 1 && x <= b.right + 1 && y >= b.top - 1 && y <= b.bottom + 1 && Number(last[2]) >= 2;
	})()`, 3*time.Second)
	if !evalAs[bool](e, e.staff, `Boolean(document.querySelector('[data-testid=own-stroke]'))`) {
		t.Error("the staff do not see their own stroke")
	}
	// It fades by itself, and it was never input: the share button it crossed
	// opens a dialog when clicked, and none opened.
	e.waitJS(e.customer, "the pen stroke to fade", `!`+shadow+`.querySelector('[data-tomoni=strokes] polyline[data-kind=pen]')`, 8*time.Second)
	if evalAs[bool](e, e.customer, `Boolean(`+shadow+`.querySelector('[data-tomoni=agree]'))`) {
		t.Error("a stroke acted on the customer's page")
	}
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=tool-laser]`)))
	pt = evalAs[[]float64](e, e.staff, where, chromedp.EvalAwaitPromise)
	e.run(e.staff,
		chromedp.MouseEvent(chromedp.MousePressed, pt[0], pt[1], chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, pt[0]+6, pt[1], chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, pt[0]+6, pt[1], chromedp.ButtonLeft))
	e.waitJS(e.customer, "the laser trail", `(`+shadow+`.querySelector('[data-tomoni=strokes]')?.dataset.last || '').startsWith('laser ')`, 3*time.Second)

	// On a phone the pause banner stays one line, and 終了 does not wrap.
	e.exec(e.customer, `Tomoni.pause('secure_input')`)
	e.waitJS(e.customer, "a one-line pause banner", `(() => {
		const b = `+shadow+`.querySelector('[data-tomoni=banner]');
		if (!b || b.dataset.state !== 'paused') return false;
		const end = b.querySelector('[data-tomoni=end]').getBoundingClientRect();
		return b.getBoundingClientRect().height <= 56 && end.height <= 40 && end.width >= 40;
	})()`, 3*time.Second)
}

// Staff messages outside the allow-list close the socket and never reach the customer.
func TestForbiddenStaffMessagesAreRefused(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)

	for _, msg := range []string{
		`{"t":"input","id":5,"text":"evil-typed-text"}`,
		`{"t":"click","id":5}`,
		`{"t":"navigate","url":"https://evil.example/"}`,
		`{"t":"scroll","x":0,"y":9999}`,
		`{"t":"eval","js":"alert(1)"}`,
	} {
		code := evalAs[int](e, e.staff, `(async () => {
			const list = await (await fetch('/api/sessions')).json();
			const id = list.find(s => s.state === 'live').id;
			return await new Promise(res => {
				const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/api/sessions/' + id + '/ws');
				ws.onopen = () => ws.send(`+"`"+msg+"`"+`);
				ws.onclose = ev => res(ev.code);
			});
		})()`+"", chromedp.EvalAwaitPromise)
		if code != 4003 {
			t.Errorf("%s: socket closed with %d, want 4003", msg, code)
		}
	}
	mustHaveCaptured(t, e.custWS, `"t":"state"`)
	_, got := e.custWS.snapshot()
	if s, found := containsAny(got, "evil", `"t":"input"`, `"t":"click"`, `"t":"navigate"`, `"t":"eval"`, `"t":"scroll"`); found {
		t.Errorf("customer received %q", s)
	}
	// The session itself is unharmed.
	e.waitJS(e.customer, "banner still live", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 2*time.Second)
	if n := testutilCount(t, e, `tomoni_relay_rejected_total{reason="forbidden",role="staff"}`); n < 5 {
		t.Errorf("forbidden counter %v, want ≥ 5", n)
	}
}

// Wrong, expired and used codes all get the same clear answer; either side
// can end the session and the other side is told.
func TestCodesAndEnding(t *testing.T) {
	e := mustStart(t, func(c *config.Config) { c.CodeTTL = 2 * time.Second })
	e.staffLogin()
	const invalid = "invalid_code"

	t.Run("wrong code", func(t *testing.T) {
		e := e.with(t)
		e.openCustomer("index.html")
		if msg := e.enterCode("000000"); msg != invalid {
			t.Errorf("wrong code: %q", msg)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		e := e.with(t)
		code := e.newCode()
		e.waitJS(e.staff, "the code to expire", `document.querySelector('#session-state').dataset.phase === 'ended' && document.querySelector('#session-state').dataset.reason === 'expired'`, 5*time.Second)
		if msg := e.enterCode(code); msg != invalid {
			t.Errorf("expired code: %q", msg)
		}
	})
	t.Run("used code, and the customer ends", func(t *testing.T) {
		e := e.with(t)
		code := e.newCode()
		if msg := e.enterCode(code); msg != "" {
			t.Fatalf("fresh code refused: %q", msg)
		}
		e.waitJS(e.staff, "live", `document.querySelector('#session-state').dataset.phase === 'live'`, 3*time.Second)
		if evalAs[bool](e, e.customer, `/\[native code\]/.test(Function.prototype.toString.call(history.pushState))`) {
			t.Error("while sharing, the SDK should be listening to history.pushState")
		}
		e.exec(e.customer, shadow+`.querySelector('[data-tomoni=end]').click()`)
		e.waitJS(e.staff, "ended by customer", `document.querySelector('#session-state').dataset.phase === 'ended' && document.querySelector('#session-state').dataset.reason === 'customer'`, 3*time.Second)
		if n := evalAs[int](e, e.staff, `document.querySelectorAll('#view iframe').length`); n != 0 {
			t.Error("staff view still shows the page after the end")
		}
		// While sharing, the SDK listens to the page's history; after the end
		// the page has its own methods back.
		if native := evalAs[bool](e, e.customer, `[history.pushState, history.replaceState].every((f) => /\[native code\]/.test(Function.prototype.toString.call(f)))`); !native {
			t.Error("the page's history methods are still wrapped after the session ended")
		}
		if msg := e.enterCode(code); msg != invalid {
			t.Errorf("reused code: %q", msg)
		}
	})
	t.Run("the staff ends and capture stops", func(t *testing.T) {
		e := e.with(t)
		e.openCustomer("login.html")
		code := e.newCode()
		if msg := e.enterCode(code); msg != "" {
			t.Fatalf("fresh code refused: %q", msg)
		}
		e.waitStaffSees("インターネットバンキング ログイン", 3*time.Second)
		e.run(e.staff, chromedp.Click(chromedp.CSS("#end-session")))
		e.waitJS(e.customer, "the banner to disappear", `!`+shadow+`.querySelector('[data-tomoni=banner]')`, 3*time.Second)
		// The customer is told who ended it.
		e.waitJS(e.customer, "the end notice", shadow+`.querySelector('[data-tomoni=toast]')?.textContent === '担当者が画面共有を終了しました'`, 3*time.Second)
		if st := evalAs[string](e, e.customer, `Tomoni.current.state`); st != "ended" {
			t.Errorf("customer state %q", st)
		}
		// The page's socket closes; a page without a socket can send nothing.
		deadline := time.Now().Add(15 * time.Second)
		for open, _ := e.custWS.sockets(); open != 0; open, _ = e.custWS.sockets() {
			if time.Now().After(deadline) {
				t.Fatalf("the customer still has %d open sockets after the staff ended", open)
			}
			time.Sleep(20 * time.Millisecond)
		}
		before, _ := e.custWS.snapshot()
		_, created := e.custWS.sockets()
		e.run(e.customer, chromedp.SendKeys(chromedp.CSS("#login-id"), "after-the-end"))
		e.exec(e.customer, `document.body.appendChild(document.createElement('p')).textContent = 'new content'; window.scrollBy(0, 100)`)
		// Typing and mutations after the end open no new socket and send nothing.
		after, _ := e.custWS.snapshot()
		if open, createdAfter := e.custWS.sockets(); open != 0 || createdAfter != created || len(after) != len(before) {
			t.Errorf("after the staff ended: %d sockets open, %d created, %d frames sent", open, createdAfter-created, len(after)-len(before))
		}
		if phase := evalAs[string](e, e.staff, `document.querySelector('#session-state').dataset.phase + '/' + document.querySelector('#session-state').dataset.reason`); phase != "ended/staff" {
			t.Errorf("console phase %q, want ended/staff", phase)
		}
	})
}

// Administrators see the audit: who, when, how long, how it ended — and
// nothing of the screen.
func TestAuditShowsMetadataOnly(t *testing.T) {
	e := mustStart(t)
	e.staffLoginThroughForm()
	e.join("account.html")
	e.waitStaffSees("1,284,530円", 3*time.Second)
	e.run(e.staff, chromedp.Click(chromedp.CSS("#end-session")))
	e.waitJS(e.staff, "ended", `document.querySelector('#session-state').dataset.phase === 'ended' && document.querySelector('#session-state').dataset.reason === 'staff'`, 3*time.Second)
	e.run(e.staff, chromedp.Click(chromedp.CSS("#audit-button")))
	e.waitJS(e.staff, "the audit table", `document.querySelector('#audit-table tr[data-kind=session_ended]')`, 3*time.Second)
	ended := evalAs[string](e, e.staff, `document.querySelector('#audit-table tr[data-kind=session_ended]').innerText`)
	for _, want := range []string{"終了", "スタッフが終了しました", "PC", "0:0"} {
		if !strings.Contains(ended, want) {
			t.Errorf("ended row %q lacks %q", ended, want)
		}
	}
	for _, kind := range []string{"session_created", "session_joined", "login"} {
		if !evalAs[bool](e, e.staff, `Boolean(document.querySelector('#audit-table tr[data-kind=`+kind+`]'))`) {
			t.Errorf("no %s row", kind)
		}
	}
	all := evalAs[string](e, e.staff, `document.querySelector('#audit-table').innerText`)
	if strings.Contains(all, "1,284,530") || strings.Contains(all, "口座") {
		t.Error("audit shows page content")
	}
	// Filtered to sessions the staff ended: only that row; the CSV link
	// exports the same selection.
	e.exec(e.staff, `document.querySelector('#audit-kind').value = 'session_ended'; document.querySelector('#audit-reason').value = 'staff'; document.querySelector('#audit-filters').requestSubmit()`)
	e.waitJS(e.staff, "the filtered audit", `[...document.querySelectorAll('#audit-rows tr')].length === 1 && document.querySelector('#audit-rows tr').dataset.kind === 'session_ended'`, 3*time.Second)
	csv := evalAs[string](e, e.staff, `fetch(document.querySelector('#audit-csv').href).then((r) => r.text())`, chromedp.EvalAwaitPromise)
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "session_ended") || !strings.Contains(lines[1], ",staff,") {
		t.Errorf("CSV export %q, want the header and the one ended session", csv)
	}

	// Accounts: add one (its password shown once), rename it, disable it.
	e.run(e.staff, chromedp.Click(chromedp.CSS("#accounts-button")))
	e.waitJS(e.staff, "the accounts", `document.querySelector('#accounts-table tr[data-username=sato]')`, 3*time.Second)
	e.run(e.staff, chromedp.SendKeys(chromedp.CSS("#new-account-username"), "abe"), chromedp.SendKeys(chromedp.CSS("#new-account-display"), "阿部"))
	e.exec(e.staff, `document.querySelector('#new-account').requestSubmit()`)
	e.waitJS(e.staff, "the new account's password", `(document.querySelector('#new-account-password code')?.textContent || '').length >= 16 && document.querySelector('#accounts-table tr[data-username=abe]')`, 3*time.Second)
	row := `document.querySelector('#accounts-table tr[data-username=abe]')`
	e.exec(e.staff, row+`.querySelector('[data-testid=account-display]').value = '阿部 一郎'; `+row+`.querySelector('[data-testid=account-save]').click()`)
	e.waitJS(e.staff, "the new name", row+`?.querySelector('[data-testid=account-display]').value === '阿部 一郎'`, 3*time.Second)
	e.exec(e.staff, row+`.querySelector('[data-testid=account-disable]').click()`)
	e.waitJS(e.staff, "the account disabled", row+`?.querySelector('[data-testid=account-status]').textContent === '無効'`, 3*time.Second)
	// With the first-start administrator disabled, the signed-in one is
	// the last who can log in: the console says why it cannot be disabled.
	e.exec(e.staff, `document.querySelector('#accounts-table tr[data-username=admin] [data-testid=account-disable]').click()`)
	e.waitJS(e.staff, "admin disabled", `document.querySelector('#accounts-table tr[data-username=admin] [data-testid=account-status]')?.textContent === '無効'`, 3*time.Second)
	e.exec(e.staff, `document.querySelector('#accounts-table tr[data-username=sato] [data-testid=account-disable]').click()`)
	e.waitJS(e.staff, "the refusal", `document.querySelector('#accounts-error').dataset.code === 'last_admin'`, 3*time.Second)
	if a, err := e.app.Store.StaffByUsername(context.Background(), "abe"); err != nil || !a.Disabled || a.DisplayName != "阿部 一郎" {
		t.Fatalf("stored account %+v %v", a, err)
	}
}

// The console's replay keeps only the events since the last full snapshot:
// the recorder takes one periodically (here every second), so a long
// session does not grow the staff's memory without bound.
func TestConsoleKeepsOnlyEventsSinceTheLastSnapshot(t *testing.T) {
	e := mustStart(t, func(c *config.Config) { c.Bounds.SnapshotEvery = time.Second })
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)
	// Four seconds of a busy page: a counter that changes every 20 ms.
	e.exec(e.customer, `(() => {
		const p = document.body.appendChild(document.createElement('p'));
		let n = 0;
		const t = setInterval(() => { p.textContent = 'tick ' + (++n); if (n === 200) { clearInterval(t); p.textContent = 'ticks-done'; } }, 20);
	})()`)
	e.waitStaffSees("ticks-done", 10*time.Second)
	_, got := e.staffWS.snapshot()
	received := 0
	for _, f := range got {
		received += strings.Count(f, `"timestamp"`)
	}
	kept := evalAs[int](e, e.staff, `Number(document.querySelector('#view').dataset.events)`)
	t.Logf("the staff received %d events; the replay keeps %d", received, kept)
	if received < 150 {
		t.Fatalf("only %d events reached the staff: the page was not busy enough to tell", received)
	}
	if kept <= 0 || kept > received/2 {
		t.Fatalf("the replay keeps %d of %d events: it does not start over from the periodic snapshots", kept, received)
	}
}
