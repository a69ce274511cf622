package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
)

func pngOf(t testing.TB, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A page whose stylesheet and images live on another origin without CORS,
// with a relative poster and a frame from a host Tomoni knows nothing of:
// the staff see it styled and with its images, and the staff browser sends
// every request to Tomoni and none anywhere else.
// testFont is a font file every machine with Chromium from Debian has.
const testFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

// startCDNSite serves testdata/site/cdn-page.html on a site origin of its
// own, its stylesheet and images on a CDN origin (an asset origin, without
// CORS) and a frame on a host Tomoni does not know; it returns the site's
// URL and a counter of the foreign host's requests.
func startCDNSite(t testing.TB, e *env) (string, *atomic.Int64) {
	t.Helper()
	logo := pngOf(t, 8, 8, color.RGBA{200, 30, 30, 255})
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cdn.css":
			w.Header().Set("Content-Type", "text/css")
			w.Write([]byte(`.cdn-styled { color: rgb(1, 2, 3); background-image: url(logo.png); }`))
		case "/logo.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(logo)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(cdn.Close)
	foreignHits := &atomic.Int64{}
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<p>a frame from a host Tomoni does not know</p>`))
	}))
	t.Cleanup(foreign.Close)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/poster.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngOf(t, 16, 9, color.RGBA{30, 30, 200, 255}))
		case "/bank-font.ttf":
			// A font of the bank's own, without CORS headers: fine for the
			// bank's pages, unusable for a browser on another origin.
			b, err := os.ReadFile(testFont)
			if err != nil {
				t.Errorf("the test font %s: %v (Debian: fonts-dejavu-core)", testFont, err)
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "font/ttf")
			w.Write(b)
		case "/cdn-page.html", "/webfont.html", "/shadow.html", "/no-viewport.html", "/menu.html", "/statement.html", "/share.js", "/chart.js", "/components.js":
			// Served without a CSP of its own, as many bank pages are, so
			// the customer loads the CDN's files too.
			b, err := os.ReadFile("testdata/site" + r.URL.Path)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			b = bytes.ReplaceAll(b, []byte("{{TOMONI_URL}}"), []byte(e.app.URL()))
			b = bytes.ReplaceAll(b, []byte("{{BANK_URL}}"), []byte(cdn.URL))
			b = bytes.ReplaceAll(b, []byte("{{IB_URL}}"), []byte(foreign.URL))
			w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(r.URL.Path)))
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	if err := e.app.AllowOrigin(site.URL); err != nil {
		t.Fatal(err)
	}
	// The CDN is an asset origin the operator named (here on loopback, so let through explicitly).
	if err := e.app.Assets.AllowOrigin(cdn.URL, true); err != nil {
		t.Fatal(err)
	}

	return site.URL, foreignHits
}

func TestStaffBrowserTalksToTomoniOnly(t *testing.T) {
	e := mustStart(t)
	siteURL, foreignHits := startCDNSite(t, e)
	requests := e.recordRequests()
	e.staffLogin()
	e.joinAt(siteURL + "/cdn-page.html")
	e.waitStaffSees("styled by a stylesheet on another origin", 5*time.Second)
	// The customer sees the CDN's styling and image...
	e.waitJS(e.customer, "the CDN's files on the customer's page", `getComputedStyle(document.getElementById('styled')).color === 'rgb(1, 2, 3)' && document.getElementById('logo').naturalWidth === 8`, 10*time.Second)
	hitsBeforeReplay := foreignHits.Load() // the customer's own browser loads the frame

	// ...and so do the staff.
	e.waitJS(e.staff, "the CDN stylesheet to apply in the staff view", staffDoc+` && getComputedStyle(`+staffDoc+`.getElementById('styled')).color === 'rgb(1, 2, 3)'`, 10*time.Second)
	e.waitJS(e.staff, "the CDN image to show", staffDoc+`.getElementById('logo')?.complete && `+staffDoc+`.getElementById('logo').naturalWidth === 8`, 10*time.Second)
	e.waitJS(e.staff, "the srcset image to show", staffDoc+`.getElementById('responsive')?.complete && `+staffDoc+`.getElementById('responsive').naturalWidth === 8`, 10*time.Second)
	if poster := evalAs[string](e, e.staff, staffDoc+`.getElementById('clip').getAttribute('poster')`); !strings.HasPrefix(poster, "/api/sessions/") {
		t.Errorf("the relative poster is %q in the staff view, not a Tomoni asset path", poster)
	}
	// The canvas is not recorded, but keeps its box: nothing below it moves.
	// (A blocked element keeps no id in the replay: find it by its place.)
	box := `(d) => { const b = d.getElementById('below'); const c = b.previousElementSibling.getBoundingClientRect(); return [Math.round(c.width), Math.round(c.height), Math.round(b.getBoundingClientRect().top)].join(' '); }`
	want := evalAs[string](e, e.customer, `(`+box+`)(document)`)
	e.waitJS(e.staff, "the canvas placeholder to keep its box ("+want+")", fmt.Sprintf(`(%s)(%s) === %q`, box, staffDoc, want), 10*time.Second)
	if src := evalAs[string](e, e.staff, staffDoc+`.getElementById('foreign').getAttribute('src') || ''`); src != "" {
		t.Errorf("the foreign frame keeps src %q in the staff view", src)
	}

	// Every request the staff browser made went to Tomoni.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))`, chromedp.EvalAwaitPromise))
	if assets := requests.assertTomoniOnly(t, e); assets < 3 {
		t.Errorf("only %d page files came through Tomoni; requests: %v", assets, requests)
	}
	if n := foreignHits.Load(); n != hitsBeforeReplay {
		t.Errorf("the foreign host got %d requests while the staff watched", n-hitsBeforeReplay)
	}
}

// Files the server cannot fetch itself (behind the customer's cookie, a
// blob: URL the page made) reach the staff view from the customer's
// browser, except where the policy says the files are the customer's own
// data; the staff browser still talks to Tomoni only.
func TestFilesOnlyTheCustomerCanRead(t *testing.T) {
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policyFile, []byte(`{"no_customer_files": ["/statements/**"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := mustStart(t, func(c *config.Config) { c.PolicyFile = policyFile })
	private := pngOf(t, 12, 12, color.RGBA{10, 160, 10, 255})
	statement := pngOf(t, 14, 14, color.RGBA{160, 10, 10, 255})
	blobSource := pngOf(t, 10, 10, color.RGBA{10, 10, 160, 255})
	var statementServed atomic.Int64
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, cookieErr := r.Cookie("bank_session")
		switch r.URL.Path {
		case "/customer-files.html", "/share.js", "/blob.js":
			b, err := os.ReadFile("testdata/site" + r.URL.Path)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			b = bytes.ReplaceAll(b, []byte("{{TOMONI_URL}}"), []byte(e.app.URL()))
			if r.URL.Path == "/customer-files.html" {
				http.SetCookie(w, &http.Cookie{Name: "bank_session", Value: "customer-7", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			}
			w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(r.URL.Path)))
			w.Write(b)
		case "/private.png", "/statements/2026-11.png":
			if cookieErr != nil {
				http.Error(w, "log in first", http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "image/png")
			if r.URL.Path == "/private.png" {
				w.Write(private)
			} else {
				statementServed.Add(1)
				w.Write(statement)
			}
		case "/blob-source.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(blobSource)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	if err := e.app.AllowOrigin(site.URL); err != nil {
		t.Fatal(err)
	}
	requests := e.recordRequests()
	e.staffLogin()
	code := e.newCode()
	e.run(e.customer, chromedp.Navigate(site.URL+"/customer-files.html"))
	e.waitJS(e.customer, "the SDK", `window.Tomoni`, 10*time.Second)
	e.waitJS(e.customer, "the customer's own images", `['private', 'statement', 'made-here'].every((id) => document.getElementById(id).naturalWidth > 0)`, 10*time.Second)
	servedToCustomer := statementServed.Load()
	if msg := e.enterCode(code); msg != "" {
		t.Fatalf("join: %q", msg)
	}
	e.waitStaffSees("Files only the customer can read", 5*time.Second)
	e.waitJS(e.staff, "the cookie-protected image from the customer's browser", staffDoc+`.getElementById('private')?.complete && `+staffDoc+`.getElementById('private').naturalWidth === 12`, 15*time.Second)
	e.waitJS(e.staff, "the page's blob: image", staffDoc+`.getElementById('made-here')?.complete && `+staffDoc+`.getElementById('made-here').naturalWidth === 10`, 15*time.Second)
	// The statement is the customer's own data: a neutral placeholder, never read for staff.
	e.waitJS(e.staff, "the statement's placeholder", staffDoc+`.getElementById('statement')?.complete && `+staffDoc+`.getElementById('statement').naturalWidth === 1`, 15*time.Second)
	if n := statementServed.Load(); n != servedToCustomer {
		t.Errorf("the statement was read %d more times for the staff view", n-servedToCustomer)
	}
	sent, _ := e.custWS.snapshot()
	files := 0
	for _, f := range sent {
		if strings.Contains(f, `"t":"file"`) && strings.Contains(f, `"data"`) {
			files++
		}
	}
	if files != 2 {
		t.Errorf("the customer's browser sent %d files, want 2 (the cookie-protected one and the blob)", files)
	}
	requests.assertTomoniOnly(t, e)
	// And the page looks the same to staff, the statement's placeholder aside.
	e.sizeTab(e.staff, 1400, 1000, 1, false)
	e.sizeTab(e.customer, 1024, 720, 1, false)
	e.waitJS(e.staff, "the staff view at the new size", `document.querySelector('#view iframe')?.offsetWidth === 1024 && document.querySelector('#view iframe').offsetHeight === 720`, 10*time.Second)
	e.waitJS(e.staff, "the images again", `['private', 'made-here'].every((id) => `+staffDoc+`.getElementById(id)?.naturalWidth > 1)`, 15*time.Second)
	if sim := e.compareViews(t, "site/customer-files.html"); sim < 0.995 {
		t.Errorf("the customer-files page matches %.4f for staff, want ≥ 0.995", sim)
	} else {
		t.Logf("fidelity %-28s %.4f", "site/customer-files.html", sim)
	}

	// Nothing fetched for the session is on the server's disk.
	err := filepath.WalkDir(e.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for name, file := range map[string][]byte{"the cookie-protected image": private, "the blob image": blobSource} {
			if bytes.Contains(b, file) {
				t.Errorf("%s is in %s", name, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A canvas the policy names (a balance chart, say) reaches staff as an
// image that follows its drawing; every other canvas stays a blank box.
func TestCanvasOptedInByPolicy(t *testing.T) {
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policyFile, []byte(`{"canvas_selectors": ["#chart"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := mustStart(t, func(c *config.Config) { c.PolicyFile = policyFile })
	siteURL, _ := startCDNSite(t, e)
	e.staffLogin()
	e.joinAt(siteURL + "/cdn-page.html")
	e.waitStaffSees("below the chart", 5*time.Second)
	// The pixel at (20, 20) of the chart as the staff see it.
	pixel := `(() => { const img = ` + staffDoc + `.getElementById('below').previousElementSibling; if (!img || img.tagName !== 'IMG' || !img.complete || !img.naturalWidth) return ''; const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight; const x = c.getContext('2d'); x.drawImage(img, 0, 0); return [...x.getImageData(20, 20, 1, 1).data.slice(0, 3)].join(','); })()`
	e.waitJS(e.staff, "the chart as drawn", pixel+` === '34,170,102'`, 10*time.Second)
	box := `(d) => { const b = d.getElementById('below'); const c = b.previousElementSibling.getBoundingClientRect(); return [Math.round(c.width), Math.round(c.height), Math.round(b.getBoundingClientRect().top)].join(' '); }`
	if want, got := evalAs[string](e, e.customer, `(`+box+`)(document)`), evalAs[string](e, e.staff, `(`+box+`)(`+staffDoc+`)`); got != want {
		t.Errorf("the chart's box is %s for staff, %s for the customer", got, want)
	}
	// The customer's page redraws it; the staff see the new drawing.
	e.exec(e.customer, `(() => { const x = document.getElementById('chart').getContext('2d'); x.fillStyle = 'rgb(200, 40, 40)'; x.fillRect(0, 0, 300, 150); })()`)
	e.waitJS(e.staff, "the redrawn chart", pixel+` === '200,40,40'`, 10*time.Second)
}
