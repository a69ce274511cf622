package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// newCustomerTab opens another tab in the same browser, as another customer.
func (e *env) newCustomerTab() *env {
	e.t.Helper()
	tab, cancel := chromedp.NewContext(e.staff)
	e.t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		e.t.Fatal(err)
	}
	c := *e
	c.customer = tab
	c.custWS = &frames{}
	return &c
}

// A customer who does not recognise the staff member's name shares nothing.
func TestDecliningTheStaffNameSharesNothing(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	code := e.newCode()
	e.openCustomer("index.html")
	e.exec(e.customer, `document.querySelector('#share-button').click()`)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=agree]').click()`)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=enter-code]').click()`)
	e.run(e.customer, chromedp.SendKeys(chromedp.JSPath(shadow+`.querySelector('[data-tomoni=code]')`), code))
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=ok]').click()`)
	e.waitJS(e.customer, "the staff-name confirmation", shadow+`.querySelector('[data-tomoni=confirm]')`, 5*time.Second)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=decline]').click()`)
	e.waitJS(e.staff, "the refusal in the console", `document.querySelector('#session-state').textContent === 'お客さまが担当者の確認で共有を取りやめました'`, 5*time.Second)
	if sent, _ := e.custWS.snapshot(); len(sent) != 0 {
		t.Fatalf("customer sent %d frames after declining", len(sent))
	}
	if st := evalAs[string](e, e.customer, `Tomoni.current.state`); st != "idle" {
		t.Fatalf("customer state %q", st)
	}
}

// At the limits, staff get a clear refusal and customers a clear "busy".
func TestCapacityLimitsAreClear(t *testing.T) {
	e := mustStart(t, func(c *config.Config) { c.MaxLive, c.MaxWaiting = 1, 2 })
	e.staffLogin()
	first := e.newCode()
	second := e.newCode()
	e.run(e.staff, chromedp.Click(chromedp.CSS("#new-session")))
	e.waitJS(e.staff, "the refusal to create a third code", `document.querySelector('#dashboard-error').textContent.includes('上限に達しているため')`, 3*time.Second)

	e.openCustomer("index.html")
	if msg := e.enterCode(first); msg != "" {
		t.Fatalf("first customer: %q", msg)
	}
	other := e.newCustomerTab()
	other.openCustomer("index.html")
	if msg := other.enterCode(second); msg != "ただいま混雑しております。しばらくたってから、もう一度お試しください。" {
		t.Fatalf("second customer at the limit: %q", msg)
	}
	for series, want := range map[string]float64{
		`tomoni_capacity_refused_total{what="join"}`:   1,
		`tomoni_capacity_refused_total{what="create"}`: 1,
		`tomoni_sessions_live`:                         1,
		`tomoni_sessions_waiting`:                      1,
	} {
		if got := testutilCount(t, e, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	rows, _ := e.app.Store.ListAudit(context.Background(), 50)
	kinds := map[string]bool{}
	for _, r := range rows {
		kinds[r.Kind] = true
	}
	if !kinds[store.AuditJoinRefused] || !kinds[store.AuditCreateRefused] {
		t.Errorf("audit lacks refusals: %v", kinds)
	}
}

// A link to another page and a reload both continue the session by themselves.
func TestSessionSurvivesNavigationAndReload(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 3*time.Second)

	start := time.Now()
	e.run(e.customer, chromedp.Click(chromedp.CSS(`a.btn.primary[href="login.html"]`)))
	took := e.waitStaffSees("インターネットバンキング ログイン", 2*time.Second)
	t.Logf("link navigation: staff view showed the new page %s after the click (%s after polling began)", time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))
	e.waitJS(e.customer, "the banner on the new page", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 2*time.Second)

	// A marker that only the page before the reload has.
	e.exec(e.customer, `document.body.appendChild(document.createElement('p')).textContent = 'marker-before-reload'`)
	e.waitStaffSees("marker-before-reload", 2*time.Second)
	start = time.Now()
	e.run(e.customer, chromedp.Reload())
	e.waitJS(e.staff, "the reloaded page", `(() => { const t = `+staffDoc+`?.body?.innerText || ''; return t.includes('インターネットバンキング ログイン') && !t.includes('marker-before-reload'); })()`, 2*time.Second)
	t.Logf("reload: staff view showed the page again %s after the reload began", time.Since(start).Round(time.Millisecond))
	e.waitJS(e.customer, "the banner after reload", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 2*time.Second)

	// The pointer works on the new page.
	pt := evalAs[[]float64](e, e.staff, `(() => {
		const f = document.querySelector('#view iframe'); const r = f.getBoundingClientRect(); const s = r.width / f.offsetWidth;
		const b = f.contentDocument.querySelector('#login-submit').getBoundingClientRect();
		return [r.left + (b.left + b.width / 2) * s, r.top + (b.top + b.height / 2) * s];
	})()`)
	e.run(e.staff, chromedp.MouseEvent(chromedp.MouseMoved, pt[0], pt[1]))
	e.waitJS(e.customer, "the pointer on the new page", `(() => { const p = Tomoni.pointerPosition(); if (!p) return false;
		const b = document.querySelector('#login-submit').getBoundingClientRect();
		return p.x >= b.left && p.x <= b.right && p.y >= b.top && p.y <= b.bottom; })()`, 3*time.Second)

	// The join code was never reused: the token in sessionStorage is not the code.
	saved := evalAs[string](e, e.customer, `sessionStorage.getItem('tomoni.session')`)
	if !strings.Contains(saved, `"token"`) {
		t.Fatalf("no resume token saved: %q", saved)
	}
}
