package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// consoleAs opens the console in a browser context of its own (its own
// cookies) as a new staff account with role, logged in.
func (e *env) consoleAs(username, display string, role store.Role) context.Context {
	e.t.Helper()
	ctx := context.Background()
	st, err := e.app.AddStaff(ctx, username, display, username+"-password-1", role)
	if err != nil {
		e.t.Fatal(err)
	}
	tab, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	e.t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		e.t.Fatalf("open a browser context: %v", err)
	}
	e.openConsoleAs(tab, st.ID)
	return tab
}

// shoot saves a screenshot of tab as docs/screenshots/name.png when
// TOMONI_UPDATE_SCREENSHOT is set (the README shows them), and always under
// e2e/artifacts.
func (e *env) shoot(tab context.Context, name string) {
	e.t.Helper()
	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		e.t.Fatal(err)
	}
	os.MkdirAll("artifacts", 0o755)
	os.WriteFile(filepath.Join("artifacts", name+".png"), shot, 0o644)
	if os.Getenv("TOMONI_UPDATE_SCREENSHOT") != "" {
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), shot, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

// A contact centre's day: an agent shares with a customer while a
// supervisor watches read-only (the customer is told who watches); the
// agent hands the session to a colleague, which the customer confirms, and
// the first agent's console lets go; the supervisor takes the lead, which
// the customer confirms too, and from then on the customer sees two 〇,
// each in its own colour with its owner's name.
func TestSupervisorWatchesAndTheCustomerConfirmsEveryHandover(t *testing.T) {
	e := mustStart(t)
	ctx := context.Background()
	sato, err := e.app.Store.StaffByUsername(ctx, staffUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Accounts().SetRole(ctx, sato.ID, store.RoleAgent); err != nil {
		t.Fatal(err)
	}
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 5*time.Second)
	id := evalAs[string](e, e.staff, `document.querySelector('#session-list li.selected').dataset.session`)
	row := fmt.Sprintf(`document.querySelector('#session-list li[data-session=%q]')`, id)

	// The supervisor sees every session with whose it is, and watches.
	sup := e.consoleAs("tanaka", "田中", store.RoleSupervisor)
	e.waitJS(sup, "the agent's session in the supervisor's list", row+`?.querySelector('[data-testid=list-staff]')?.textContent === '担当: 佐藤'`, 10*time.Second)
	e.exec(sup, row+`.click()`)
	e.waitJS(sup, "the customer's page in the supervisor's view", `document.querySelector('#view iframe')?.contentDocument?.body?.innerText.includes('くらしに、そっと寄りそう銀行。')`, 10*time.Second)
	e.waitJS(sup, "read-only tools", `document.querySelector('[data-testid=watch-only]') && !document.querySelector('[data-testid=tool-pointer]') && document.querySelector('[data-testid=takeover]')`, 5*time.Second)
	e.waitJS(e.customer, "the watcher named on the customer's banner", shadow+`.querySelector('[data-tomoni=watchers]')?.textContent === '同席: 田中'`, 5*time.Second)
	e.waitJS(e.staff, "the watcher named in the agent's console", `document.querySelector('[data-testid=watchers]')?.textContent === '見守り: 田中'`, 5*time.Second)

	// The agent points; the supervisor sees the agent's 〇 where the customer does.
	const button = `.hero [data-action=share]`
	e.pointAt(e.staff, button)
	e.waitJS(e.customer, "the agent's 〇", `Tomoni.pointerPosition() !== null`, 5*time.Second)
	e.waitJS(sup, "the agent's 〇 in the supervisor's view, on the button", onButton(`[data-testid=other-pointer][data-by="0"]`, button), 5*time.Second)
	e.shoot(sup, "supervisor")

	// Another agent, who will take the session.
	other := e.consoleAs("suzuki", "鈴木", store.RoleAgent)
	if got := evalAs[bool](e, other, row+` !== null`); got {
		t.Fatal("another agent sees a session that is not theirs")
	}

	// The agent hands over to 鈴木; the customer is asked, and accepts.
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=handover-open]`)))
	e.waitJS(e.staff, "the colleagues", `[...document.querySelectorAll('[data-testid=handover-to] option')].some((o) => o.textContent.startsWith('鈴木'))`, 5*time.Second)
	e.exec(e.staff, `(() => { const s = document.querySelector('[data-testid=handover-to]'); s.value = [...s.options].find((o) => o.textContent.startsWith('鈴木')).value; s.dispatchEvent(new Event('change')); })()`)
	e.run(e.staff, chromedp.Click(chromedp.CSS(`[data-testid=handover-send]`)))
	e.waitJS(e.staff, "waiting for the customer", `document.querySelector('[data-testid=handover-pending]')?.textContent.includes('鈴木')`, 5*time.Second)
	e.waitJS(other, "the session coming to 鈴木", row+`?.dataset.access === 'incoming'`, 10*time.Second)
	e.waitJS(e.customer, "the hand-over question", shadow+`.querySelector('[data-tomoni=handover-name] strong')?.textContent === '鈴木'`, 5*time.Second)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=handover-accept]').click()`)

	e.waitJS(e.staff, "the first agent's console letting go", `document.querySelector('#session-state').dataset.phase === 'handed_over' && !document.querySelector('#view iframe')`, 10*time.Second)
	e.waitJS(e.customer, "the new name on the banner", shadow+`.querySelector('[data-tomoni=banner] .staff')?.textContent === '担当: 鈴木'`, 5*time.Second)
	e.waitJS(other, "the session in 鈴木's charge", row+`?.dataset.access === 'in_charge'`, 10*time.Second)
	e.exec(other, row+`.click()`)
	e.waitJS(other, "the customer's page in 鈴木's view", `document.querySelector('#view iframe')?.contentDocument?.body?.innerText.includes('くらしに、そっと寄りそう銀行。') && document.querySelector('[data-testid=tool-pointer]')`, 10*time.Second)

	// The supervisor takes the lead; the customer confirms that too.
	e.run(sup, chromedp.Click(chromedp.CSS(`[data-testid=takeover]`)))
	e.waitJS(e.customer, "the take-over question", shadow+`.querySelector('[data-tomoni=handover-name] strong')?.textContent === '田中'`, 5*time.Second)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=handover-accept]').click()`)
	e.waitJS(sup, "the supervisor's tools", `document.querySelector('[data-testid=tool-pointer]') && !document.querySelector('[data-testid=watch-only]')`, 10*time.Second)
	e.waitJS(other, "鈴木 still on the session", `document.querySelector('[data-testid=tool-pointer]') && document.querySelector('#session-state').dataset.phase === 'live'`, 5*time.Second)

	// Both point: the customer sees two circles, in two colours, named.
	e.pointAt(other, button)
	e.pointAt(sup, `#faq-share summary`)
	e.waitJS(e.customer, "two named pointers in two colours", `(() => {
		const dots = [...`+shadow+`.querySelectorAll('[data-tomoni=pointer]')];
		const labels = [...`+shadow+`.querySelectorAll('[data-tomoni=pointer-label]')].filter((l) => !l.hidden).map((l) => l.textContent).sort();
		return dots.length === 2 && dots[0].style.borderColor !== dots[1].style.borderColor && labels.join() === '田中,鈴木';
	})()`, 5*time.Second)
	e.waitJS(other, "the supervisor's 〇 in 鈴木's view", `(() => { const d = document.querySelector('[data-testid=other-pointer]'); return d && !d.hidden && d.textContent === '田中'; })()`, 5*time.Second)
	e.shoot(other, "agent")
	e.shoot(e.customer, "customer")

	// Whoever is on it may end it; everyone's console says so.
	e.run(sup, chromedp.Click(chromedp.CSS(`#end-session`)))
	e.waitJS(e.customer, "the end", `!`+shadow+`.querySelector('[data-tomoni=banner]')`, 5*time.Second)
	e.waitJS(other, "the end in 鈴木's console", `document.querySelector('#session-state').dataset.state === 'ended'`, 5*time.Second)

	// The administrator's view of accounts, roles included.
	e.run(e.staff, chromedp.Navigate(e.app.URL()+"/console/"))
	adm := e.consoleAs("yamada", "山田", store.RoleAdmin)
	e.run(adm, chromedp.Click(chromedp.CSS(`#accounts-button`)))
	e.waitJS(adm, "roles in the accounts view", `document.querySelector('tr[data-username=tanaka] [data-testid=account-role]')?.value === 'supervisor'`, 5*time.Second)
	e.shoot(adm, "admin")
	// An administrator changes a role there.
	e.exec(adm, `(() => { const s = document.querySelector('tr[data-username=suzuki] [data-testid=account-role]'); s.value = 'supervisor'; s.dispatchEvent(new Event('change')); })()`)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := e.app.Store.StaffByUsername(ctx, "suzuki")
		if err == nil && st.Role == store.RoleSupervisor {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("suzuki's role was not changed: %+v %v", st, err)
		}
	}
}

// pointAt moves a console's mouse over selector in its replayed view once
// the view has held still, and returns where it moved to.
func (e *env) pointAt(tab context.Context, selector string) []float64 {
	e.t.Helper()
	// (A view that is being rebuilt, after a reset or a fresh snapshot, is waited for.)
	where := `new Promise((done) => {
		const at = () => {
			const f = document.querySelector('#view iframe');
			const el = f?.contentDocument?.querySelector('` + selector + `');
			if (!el) return null;
			const r = f.getBoundingClientRect();
			const s = r.width / f.offsetWidth;
			const b = el.getBoundingClientRect();
			return [r.left + (b.left + b.width * 0.3) * s, r.top + (b.top + b.height * 0.6) * s];
		};
		let last = '';
		const tick = () => { const p = at(); const k = JSON.stringify(p); if (p && k === last) done(p); else { last = k; setTimeout(tick, 150); } };
		tick();
	})`
	pt := evalAs[[]float64](e, tab, where, chromedp.EvalAwaitPromise)
	e.run(tab, chromedp.MouseEvent(chromedp.MouseMoved, pt[0], pt[1]))
	return pt
}

// onButton is a console expression: the mark is shown over selector in the replayed view.
func onButton(mark, selector string) string {
	return `(() => {
		const d = document.querySelector('` + mark + `');
		if (!d || d.hidden) return false;
		const r = d.getBoundingClientRect();
		const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
		const f = document.querySelector('#view iframe'); const fr = f.getBoundingClientRect(); const s = fr.width / f.offsetWidth;
		const b = f.contentDocument.querySelector('` + selector + `').getBoundingClientRect();
		return cx >= fr.left + b.left * s && cx <= fr.left + b.right * s && cy >= fr.top + b.top * s && cy <= fr.top + b.bottom * s;
	})()`
}
