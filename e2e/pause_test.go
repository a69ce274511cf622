package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// Opening the on-screen PIN keyboard pauses sharing before the next frame;
// nothing typed on it reaches staff; closing it resumes with a fresh view.
func TestSoftwareKeyboardPausesSharing(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("transfer.html")
	e.waitStaffSees("振込先金融機関", 3*time.Second)

	state := evalAs[string](e, e.customer, `new Promise(res => {
		document.getElementById('pin-open').click();
		requestAnimationFrame(() => res(Tomoni.current.state + ':' + (Tomoni.current.reason || '')));
	})`, chromedp.EvalAwaitPromise)
	if state != "paused:secure_input" {
		t.Fatalf("state in the next animation frame: %q, want paused:secure_input", state)
	}
	e.waitJS(e.staff, "the staff to see the secure-input pause", `document.querySelector('#session-state').dataset.phase === 'paused' && document.querySelector('#session-state').dataset.reason === 'secure_input'`, 3*time.Second)
	if n := evalAs[int](e, e.staff, `document.querySelectorAll('#view iframe').length`); n != 0 {
		t.Error("staff view still shows the page while paused")
	}
	sentBefore, _ := e.custWS.snapshot()
	// Enter a PIN on the keypad, then close it.
	keys := evalAs[string](e, e.customer, `[...document.querySelectorAll('#keypad button')].map(b => b.dataset.key).join(',')`)
	if !strings.Contains(keys, "7") {
		t.Fatalf("keypad keys %q", keys)
	}
	for _, k := range []string{"7", "3", "9", "1"} {
		e.exec(e.customer, `document.querySelector('#keypad button[data-key="`+k+`"]').click()`)
	}
	pinShown := evalAs[string](e, e.customer, `document.getElementById('pin-dots').textContent`)
	if pinShown != "●●●●" {
		t.Fatalf("pin display %q", pinShown)
	}
	mustHaveCaptured(t, e.custWS, `"t":"events"`)
	sentDuring, _ := e.custWS.snapshot()
	for _, f := range sentDuring[len(sentBefore):] {
		if strings.Contains(f, `"t":"events"`) {
			t.Errorf("customer sent events while the keyboard was open: %.200s", f)
		}
	}
	e.exec(e.customer, `document.querySelector('#keypad button[data-key="閉じる"]').click()`)
	e.waitJS(e.staff, "sharing to resume", `document.querySelector('#session-state').dataset.phase === 'live'`, 3*time.Second)
	e.waitStaffSees("振込先金融機関", 3*time.Second)
	// The staff never saw the keypad's digits: the keypad is blocked even in snapshots.
	mustHaveCaptured(t, e.staffWS, "振込先金融機関")
	_, got := e.staffWS.snapshot()
	if _, found := containsAny(got, `"data-key"`, "訂正"); found {
		t.Error("staff received the keypad's content")
	}
}

// Navigating to an excluded page pauses sharing and sends no content;
// coming back resumes it.
func TestExcludedPagePausesSharing(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("account.html")
	e.waitStaffSees("口座情報", 3*time.Second)

	e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/privacy.html"))
	e.waitJS(e.staff, "the excluded-page status", `document.querySelector('#session-state').dataset.phase === 'paused' && document.querySelector('#session-state').dataset.reason === 'excluded_page'`, 5*time.Second)
	e.waitJS(e.customer, "the customer's banner to say so", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'paused'`, 3*time.Second)
	if n := evalAs[int](e, e.staff, `document.querySelectorAll('#view iframe').length`); n != 0 {
		t.Error("staff view shows something on an excluded page")
	}
	// The pointer tools are off while paused.
	if n := evalAs[int](e, e.staff, `document.querySelectorAll('[data-testid=tool-pointer]').length`); n != 1 {
		t.Fatalf("tools missing")
	}

	e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/index.html"))
	e.waitJS(e.staff, "sharing to resume", `document.querySelector('#session-state').dataset.phase === 'live'`, 5*time.Second)
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)

	mustHaveCaptured(t, e.staffWS, "くらしに、そっと寄りそう銀行")
	_, got := e.staffWS.snapshot()
	if s, found := containsAny(got, "提携先への情報提供", "ダイレクトメールの受け取り"); found {
		t.Errorf("staff received text of the excluded page: %q", s)
	}
}

// The staff's emergency cut blanks the view at once and ends the session
// with reason staff_cut, which the audit records.
func TestStaffCutOff(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("account.html")
	e.waitStaffSees("1,284,530円", 3*time.Second)
	e.run(e.staff, chromedp.Click(chromedp.CSS("#cut-session")))
	if n := evalAs[int](e, e.staff, `document.querySelectorAll('#view iframe').length`); n != 0 {
		t.Error("view not blank right after the cut")
	}
	e.waitJS(e.staff, "cut status", `document.querySelector('#session-state').dataset.phase === 'ended' && document.querySelector('#session-state').dataset.reason === 'staff_cut'`, 3*time.Second)
	e.waitJS(e.customer, "the banner to go", `!`+shadow+`.querySelector('[data-tomoni=banner]')`, 3*time.Second)
	rows, err := e.app.Store.ListAudit(context.Background(), store.AuditQuery{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		if r.Kind == store.AuditSessionEnded && r.Reason == "staff_cut" && r.DurationMS > 0 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no session_ended/staff_cut audit row in %+v", rows)
	}
}
