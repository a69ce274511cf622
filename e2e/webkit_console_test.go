package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/server"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// Staff on Safari: the console in WebKit asks for the compressed stream,
// inflates it with WebKit's own DecompressionStream and shows the
// customer's page live, as it does in Chromium.
func TestWebKitConsole(t *testing.T) {
	e := mustStart(t)
	wk := newWebKit(t)
	wk.call(http.MethodPost, "/window/rect", map[string]int{"width": 1280, "height": 900}, nil)
	// A login minted on the server side, its cookie given to WebKit.
	st, err := e.store.StaffByUsername(context.Background(), staffUser)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := auth.NewToken()
	csrf, _ := auth.NewToken()
	now := time.Now()
	if err := e.store.CreateLogin(context.Background(), store.Login{TokenHash: auth.HashToken(tok), StaffID: st.ID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	wk.navigate(e.url + "/console/")
	wk.call(http.MethodPost, "/cookie", map[string]any{"cookie": map[string]any{"name": server.CookieName, "value": tok, "path": "/", "httpOnly": true}}, nil)
	wk.navigate(e.url + "/console/")
	wk.waitJS("the console", `document.querySelector('#new-session')`, 20*time.Second)
	if !evalWK[bool](wk, `try { new DecompressionStream('deflate-raw'); return true; } catch (e) { return false; }`) {
		t.Fatal(`this WebKit has no DecompressionStream("deflate-raw"): the console would fall back to text frames and the stream would go untested`)
	}

	evalWK[any](wk, `document.querySelector('#new-session').click(); return null;`)
	wk.waitJS("a code", `/\d{3}\s*\d{3}/.test(document.querySelector('#session-code')?.textContent || '')`, 10*time.Second)
	code := evalWK[string](wk, `return document.querySelector('#session-code').textContent.replace(/\s/g, '');`)

	e.openCustomer("index.html")
	check, problem := e.requestJoin(code)
	if problem != "" {
		t.Fatalf("join request refused: %s", problem)
	}
	admit := fmt.Sprintf(`document.querySelector('#join-requests li[data-check="%s"] [data-testid=request-admit]')`, check)
	wk.waitJS("the join request", admit, 10*time.Second)
	evalWK[any](wk, admit+`.click(); return null;`)
	e.waitJS(e.customer, "the staff-name confirmation", shadow+`.querySelector('[data-tomoni=confirm]')`, 10*time.Second)
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=confirm]').click()`)

	view := `(document.querySelector('#view iframe')?.contentDocument?.body?.innerText || '')`
	wk.waitJS("the customer's page in the WebKit console", view+`.includes('くらしに、そっと寄りそう銀行。')`, 15*time.Second)
	if phase := evalWK[string](wk, `return document.querySelector('#session-state').dataset.phase;`); phase != "live" {
		t.Errorf("WebKit console phase %q, want live", phase)
	}
	// Changes keep arriving: the customer's next page.
	e.run(e.customer, chromedp.Navigate(e.demoURL+"/login.html"))
	wk.waitJS("the next page in the WebKit console", view+`.includes('インターネットバンキング ログイン')`, 15*time.Second)

	// The session's end, the stream's last message before the close, is
	// shown as the end.
	e.exec(e.customer, shadow+`.querySelector('[data-tomoni=end]').click()`)
	wk.waitJS("the end in the WebKit console", `document.querySelector('#session-state')?.dataset.phase === 'ended' && document.querySelector('#session-state').dataset.reason === 'customer'`, 15*time.Second)
}
