package e2e

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/demo"
)

// privacyCase is one secret on testdata/site/privacy-cases.html. server
// marks the cases the server filter must catch on its own, from attributes
// it can recognise without CSS.
type privacyCase struct {
	secret string
	server bool
}

var privacyCases = []privacyCase{
	{"typed-c01-kawa", false},        // text input, typed
	{"typed-c02-pw", true},           // password, typed
	{"preset-c03", false},            // value attribute in the HTML
	{"hidden-c04", true},             // input type=hidden (rrweb never masks it)
	{"mail-c05@example.jp", false},   // email, typed
	{"0312345606", false},            // tel, typed
	{"7070707", false},               // number, typed
	{"search-c08", false},            // search box not on the allow-list
	{"textarea-c09", false},          // textarea, typed
	{"initial-c10", false},           // textarea content in the HTML
	{"option-text-c11", false},       // selected option's text
	{"option-value-c12", false},      // selected option's value
	{"list-a-c13", false},            // option list of a masked select
	{"editable-c14", false},          // contenteditable, typed
	{"initial-editable-c15", false},  // contenteditable content
	{"mask-text-c16", true},          // data-tomoni-mask text
	{"block-text-c17", true},         // data-tomoni-block content
	{"placeholder-c18", false},       // placeholder on a masked field
	{"title-c19", true},              // title on a masked element
	{"aria-label-c20", false},        // aria-label on a masked field
	{"valuetext-c21", true},          // aria-valuetext on a masked element
	{"alt-c22", true},                // alt inside a blocked element
	{"data-attr-c23", false},         // data-* on a masked field
	{"script-c24", false},            // value set by script
	{"script-hidden-c25", true},      // hidden value set by script
	{"autofill-c26", true},           // card number filled by autofill
	{"before-c27", true},             // password typed before "show password"
	{"after-c27", true},              // ... and after it turned the field into type=text
	{"later-mask-c28", true},         // text added later inside a masked element
	{"later-block-c29", true},        // text added later inside a blocked element
	{"shadow-c30", true},             // shadow DOM under a masked host
	{"shadow-input-c31", false},      // input inside a shadow root, typed
	{"ignored-c32", false},           // rr-ignore field, seen again in a later full snapshot
	{"query-c33", true},              // personal data in the page URL's query
	{"acct-c34", false},              // policy mask selector
	{"panel-c35", false},             // policy block selector
	{"otp-c36", true},                // autocomplete=one-time-code, typed
	{"unmask-pw-c37", true},          // password on the unmask allow-list
	{"frag-c38", true},               // personal data in the URL fragment
	{"link-c39", true},               // personal data in a link's query
	{"later-option-c40", false},      // option added later to a masked select
	{"pw-aria-c41", true},            // aria-label on a password field
	{"changed-c42", false},           // contenteditable text changed by script
	{"srcdoc-pw-c43", true},          // password value inside an iframe's srcdoc
	{"srcdoc-text-c44", true},        // text value inside an iframe's srcdoc
	{"output-c45", true},             // <output> text
	{"datalist-c46", true},           // <datalist> option
	{"2001-04-07", true},             // date field's value
	{"title-field-c48", true},        // title on a text field
	{"aria-desc-c49", true},          // aria-description on a field
	{"opt-data-c50", true},           // data-* on an option
	{"ta-placeholder-c51", true},     // placeholder on a textarea
	{"nested-edit-c52", true},        // markup inside contenteditable
	{"added-later-c53", true},        // field added later with a value
	{"script-ta-c54", true},          // textarea value set by script
	{"select-script-c55", true},      // option chosen by script
	{"url-c56.example", true},        // url field's value
	{"output-later-c57", true},       // output value set by script
	{"datalist-later-c58", true},     // datalist option added later
	{"srcdoc-later-c59", true},       // srcdoc set later by script
	{"srcdoc-later-input-c59", true}, // ... with a field in it
	{"opt-label-c60", true},          // label attribute of an option
	{"range-c61", true},              // aria-valuetext on a range
	{"1999-12", true},                // month field's value
	{"dataurl-c63", true},            // markup in a data: URL frame
	{"keyword-c64", true},            // search box not on the allow-list, typed
}

const testPolicy = `{
  "mask_selectors": [".account-number"],
  "block_selectors": ["#secret-panel"],
  "excluded_pages": ["/privacy.html", "/excluded-*.html"],
  "strip_query": true,
  "strip_fragment": true
}`

// privacyRun shares the test page and performs every case; it returns the env.
func privacyRun(t *testing.T, sdkMasking bool) *env {
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policyFile, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	e := mustStart(t, func(c *config.Config) {
		c.PolicyFile = policyFile
		c.TestDisableSDKMasking = !sdkMasking
	})
	site := httptest.NewServer(demo.Handler(os.DirFS("testdata/site"), func() demo.URLs { return demo.URLs{Tomoni: e.app.URL()} }))
	t.Cleanup(site.Close)
	if err := e.app.AllowOrigin(site.URL); err != nil {
		t.Fatal(err)
	}
	e.staffLogin()
	code := e.newCode()
	e.run(e.customer, chromedp.Navigate(site.URL+"/privacy-cases.html?email=query-c33%40example.jp#frag-c38"))
	e.waitJS(e.customer, "the SDK", `window.Tomoni && window.runCases`, 10*time.Second)
	if msg := e.enterCode(code); msg != "" {
		t.Fatalf("join: %q", msg)
	}
	e.waitStaffSees("Privacy test page", 3*time.Second)

	typeInto := func(sel, text string) {
		e.run(e.customer, chromedp.SendKeys(chromedp.CSS(sel), text))
	}
	typeInto("#c01", "typed-c01-kawa")
	typeInto("#c02", "typed-c02-pw")
	typeInto("#c05", "mail-c05@example.jp")
	typeInto("#c06", "0312345606")
	typeInto("#c07", "7070707")
	typeInto("#c08", "search-c08")
	typeInto("#c09", "textarea-c09")
	typeInto("#c14", "editable-c14")
	typeInto("#c27", "before-c27")
	e.exec(e.customer, `document.getElementById('c27-show').click()`)
	typeInto("#c27", "after-c27")
	e.run(e.customer, chromedp.SendKeys(chromedp.JSPath(`document.getElementById('c31host').shadowRoot.getElementById('c31')`), "shadow-input-c31"))
	typeInto("#c32", "ignored-c32")
	typeInto("#c36", "otp-c36")
	typeInto("#c37", "unmask-pw-c37")
	typeInto("#c64", "keyword-c64")
	typeInto("#p1", "visible-query-p1")
	e.exec(e.customer, `runCases()`)
	e.waitStaffSees("all-cases-done", 3*time.Second)

	// A later full snapshot (here: after a pause) must be as clean as the first.
	e.exec(e.customer, `Tomoni.pause('site')`)
	e.waitJS(e.staff, "paused", `document.querySelector('#session-state').dataset.state === 'paused'`, 3*time.Second)
	e.exec(e.customer, `Tomoni.resume()`)
	e.waitStaffSees("all-cases-done", 3*time.Second)
	// The allow-listed search box is the positive control: it must be visible.
	e.waitJS(e.staff, "the allow-listed field to show its value", staffDoc+`.querySelector('#p1').value === 'visible-query-p1'`, 3*time.Second)
	return e
}

func (e *env) assertHidden(t *testing.T, cases []privacyCase, alsoCustomerSent bool) {
	t.Helper()
	mustHaveCaptured(t, e.staffWS, "Privacy test page")
	custSent, _ := e.custWS.snapshot()
	_, staffGot := e.staffWS.snapshot()
	dom := evalAs[string](e, e.staff, staffDoc+`.documentElement.outerHTML + '|' + [...`+staffDoc+`.querySelectorAll('input,textarea,select')].map(i => i.value).join('|')`)
	if !strings.Contains(dom, "Privacy test page") {
		t.Fatal("staff view is empty: nothing to check")
	}
	for _, c := range cases {
		if _, found := containsAny(staffGot, c.secret); found {
			t.Errorf("staff received %q on the wire", c.secret)
		}
		if strings.Contains(dom, c.secret) {
			t.Errorf("staff view DOM contains %q", c.secret)
		}
		if alsoCustomerSent {
			for _, f := range custSent {
				if i := strings.Index(f, c.secret); i >= 0 {
					t.Errorf("customer browser sent %q: …%s…", c.secret, f[max(0, i-200):min(len(f), i+100)])
					break
				}
			}
		}
	}
}

// fieldView is what staff see of every form field on the privacy page:
// value, placeholder, user-data attributes and text, by element id.
func fieldView(e *env) map[string]string {
	return evalAs[map[string]string](e, e.staff, `(() => {
		const out = {};
		const doc = `+staffDoc+`;
		for (const el of doc.querySelectorAll('input, textarea, select, output, datalist, [contenteditable]')) {
			const key = el.id || (el.tagName + ':' + (el.getAttribute('list') || el.getAttribute('name') || '') + ':' + [...doc.querySelectorAll(el.tagName)].indexOf(el));
			const attrs = ['placeholder', 'title', 'aria-label', 'aria-valuetext', 'aria-description']
				.map((a) => a + '=' + (el.getAttribute(a) ?? '')).join(' ');
			const opts = el.tagName === 'SELECT' || el.tagName === 'DATALIST' ? [...el.querySelectorAll('option')].map((o) => o.value + '/' + o.label + '/' + o.textContent).join(',') : '';
			out[key] = ['value=' + (el.value ?? ''), attrs, 'text=' + el.textContent.trim(), 'options=' + opts].join(' | ');
		}
		return out;
	})()`)
}

// The privacy corpus, twice: with the SDK's masking (the customer's browser
// masks everything; nothing is left for the server to scrub), and with it
// switched off, as if the SDK had a bug (the server filter alone keeps every
// case from staff). Both times nothing reaches staff on the wire or in the
// staff DOM, and staff see every form field exactly the same way.
func TestPrivacyCases(t *testing.T) {
	if len(privacyCases) < 60 {
		t.Fatalf("only %d privacy cases", len(privacyCases))
	}
	var mu sync.Mutex
	views := map[bool]map[string]string{}
	t.Run("runs", func(t *testing.T) {
		for _, sdk := range []bool{true, false} {
			name := "masked in the browser"
			if !sdk {
				name = "caught by the server alone"
			}
			t.Run(name, func(t *testing.T) {
				e := privacyRun(t, sdk)
				if sdk {
					e.assertHidden(t, privacyCases, true)
					if n := testutilCount(t, e, `tomoni_privacy_scrubbed_total{kind="values"}`) + testutilCount(t, e, `tomoni_privacy_scrubbed_total{kind="texts"}`) +
						testutilCount(t, e, `tomoni_privacy_scrubbed_total{kind="attributes"}`); n != 0 {
						t.Errorf("server filter scrubbed %v values the SDK let through", n)
					}
				} else {
					e.assertHidden(t, privacyCases, false)
					// The control: the SDK's masking really was off, so the
					// secrets did leave the customer's browser, and only the
					// server kept them from staff.
					custSent, _ := e.custWS.snapshot()
					for _, s := range []string{"typed-c01-kawa", "preset-c03", "output-c45", "keyword-c64"} {
						if _, found := containsAny(custSent, s); !found {
							t.Errorf("SDK masking was not off: %q never left the customer's browser", s)
						}
					}
					if n := testutilCount(t, e, `tomoni_privacy_scrubbed_total{kind="values"}`); n == 0 {
						t.Error("server filter counted no scrubbed values")
					}
					if !strings.Contains(e.logs.String(), "server filter scrubbed values the SDK did not mask") {
						t.Error("scrubs were not logged")
					}
				}
				v := fieldView(e)
				mu.Lock()
				views[sdk] = v
				mu.Unlock()
			})
		}
	})
	sdk, server := views[true], views[false]
	if len(sdk) < 40 || len(server) != len(sdk) {
		t.Fatalf("staff saw %d fields with the SDK masking, %d with the server alone", len(sdk), len(server))
	}
	for k, v := range sdk {
		if server[k] != v {
			t.Errorf("field %s: staff see\n  %s (SDK masked)\n  %s (server masked)", k, v, server[k])
		}
	}
}

// The privacy corpus with the customer in WebKit (Safari's engine): what is
// typed, preset, set by script or added later reaches staff masked, as in
// Chromium.
func TestPrivacyCasesWithAWebKitCustomer(t *testing.T) {
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policyFile, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	e := mustStart(t, func(c *config.Config) { c.PolicyFile = policyFile })
	site := httptest.NewServer(demo.Handler(os.DirFS("testdata/site"), func() demo.URLs { return demo.URLs{Tomoni: e.app.URL()} }))
	t.Cleanup(site.Close)
	if err := e.app.AllowOrigin(site.URL); err != nil {
		t.Fatal(err)
	}
	wk := newWebKit(t)
	e.staffLogin()
	code := e.newCode()
	wk.navigate(site.URL + "/privacy-cases.html?email=query-c33%40example.jp#frag-c38")
	wk.waitJS("the SDK", "window.Tomoni && window.runCases", 20*time.Second)
	wk.joinWith(e, code)
	e.waitStaffSees("Privacy test page", 10*time.Second)
	for sel, text := range map[string]string{"#c01": "typed-c01-kawa", "#c02": "typed-c02-pw", "#c05": "mail-c05@example.jp", "#c09": "textarea-c09", "#c36": "otp-c36", "#c64": "keyword-c64", "#p1": "visible-query-p1"} {
		wk.typeInto(sel, text)
	}
	evalWK[any](wk, `runCases(); return null;`)
	e.waitStaffSees("all-cases-done", 10*time.Second)
	// The positive control: the allow-listed field shows what was typed.
	e.waitJS(e.staff, "the allow-listed field", staffDoc+`.querySelector('#p1').value === 'visible-query-p1'`, 10*time.Second)
	e.assertHidden(t, privacyCases, false)
}
