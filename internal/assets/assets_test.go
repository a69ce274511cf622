package assets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/rrweb"
)

func testConfig() Config {
	return Config{Fetch: FetchConfig{MaxBytes: 1 << 20, Timeout: 2 * time.Second, CacheBytes: 4 << 20, CacheTTL: time.Minute}, MaxURLsPerSession: 100, CustomerWait: time.Second, CustomerBytes: 1 << 20}
}

func mustService(t *testing.T, cfg Config) *Service {
	t.Helper()
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeRegistry maps each URL to "/a/<URL>" so tests can read what was resolved.
func fake(abs string) string { return "/a/" + abs }

func TestRewriteCSS(t *testing.T) {
	base, _ := url.Parse("https://cdn.example/css/site.css")
	for _, tc := range []struct{ in, want string }{
		{`body{background:url(bg.png)}`, `body{background:url("/a/https://cdn.example/css/bg.png")}`},
		{`a{b:URL( "../img/x.svg" )}`, `a{b:url("/a/https://cdn.example/img/x.svg")}`},
		{`@font-face{src:url('/f/a.woff2') format("woff2")}`, `@font-face{src:url("/a/https://cdn.example/f/a.woff2") format("woff2")}`},
		{`@import "print.css" print;`, `@import "/a/https://cdn.example/css/print.css" print;`},
		{`@import url(other.css);`, `@import url("/a/https://cdn.example/css/other.css");`},
		{`x{clip-path:url(#c)}`, `x{clip-path:url("#c")}`},
		{`x{b:url(data:image/png;base64,AAA=)}`, `x{b:url("data:image/png;base64,AAA=")}`},
		{`x{content:"url(not-a-file)"}`, `x{content:"url(not-a-file)"}`},
		{`/* url(commented.png) */x{}`, `/* url(commented.png) */x{}`},
		{`x{b:url(javascript:alert(1))}`, `x{b:url("` + placeholderImage + `")})`},
		{`x{b:url(//other.example/i.png)}`, `x{b:url("/a/https://other.example/i.png")}`},
		{`plain{color:red}`, `plain{color:red}`},
	} {
		got := rewriteCSS(tc.in, base, fake)
		if tc.in == `x{b:url(javascript:alert(1))}` {
			// The unquoted argument ends at the first ")", so the rest of
			// the broken value stays; nothing can be fetched from it.
			if !strings.HasPrefix(got, `x{b:url("`+placeholderImage+`")`) {
				t.Errorf("%s → %s", tc.in, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func newRewriter(t *testing.T) (*Rewriter, *registry) {
	t.Helper()
	s := mustService(t, testConfig())
	rw, err := s.Rewriter("sess1")
	if err != nil {
		t.Fatal(err)
	}
	return rw, rw.reg
}

func run(t *testing.T, rw *Rewriter, evs ...string) []string {
	t.Helper()
	raw := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		raw[i] = json.RawMessage(e)
	}
	out, err := rewrite(rw, raw)
	if err != nil {
		t.Fatal(err)
	}
	s := make([]string, len(out))
	for i, o := range out {
		s[i] = string(o)
	}
	return s
}

const meta = `{"type":4,"data":{"href":"https://bank.example/app/page.html","width":1280,"height":800},"timestamp":1}`

func TestRewriterSendsEveryFetchThroughTomoni(t *testing.T) {
	rw, reg := newRewriter(t)
	snap := `{"type":2,"timestamp":2,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"html","attributes":{},"childNodes":[
		{"type":2,"id":3,"tagName":"link","attributes":{"rel":"stylesheet","href":"https://cdn.example/site.css"},"childNodes":[]},
		{"type":2,"id":4,"tagName":"style","attributes":{},"childNodes":[{"type":3,"id":5,"textContent":"body{background:url(bg.png)}","isStyle":true}]},
		{"type":2,"id":6,"tagName":"img","attributes":{"src":"https://img.example/a.png","srcset":"https://img.example/a.png 1x, https://img.example/a@2x.png 2x"},"childNodes":[]},
		{"type":2,"id":7,"tagName":"video","attributes":{"poster":"poster.jpg"},"childNodes":[]},
		{"type":2,"id":8,"tagName":"iframe","attributes":{"src":"https://evil.example/frame"},"childNodes":[]},
		{"type":2,"id":9,"tagName":"a","attributes":{"href":"https://bank.example/next"},"childNodes":[]},
		{"type":2,"id":10,"tagName":"div","attributes":{"style":"background-image:url('/img/hero.jpg')"},"childNodes":[]},
		{"type":2,"id":11,"tagName":"iframe","attributes":{"srcdoc":"<img src=https://evil.example/x.png>"},"childNodes":[]}
	]}]},"initialOffset":{"top":0,"left":0}}}`
	out := strings.Join(run(t, rw, meta, snap), "\n")
	for _, foreign := range []string{"cdn.example", "img.example", "evil.example", `"poster.jpg"`, "/img/hero.jpg", "bg.png"} {
		if strings.Contains(out, foreign) {
			t.Errorf("%q is still in the replayed page:\n%s", foreign, out)
		}
	}
	if !strings.Contains(out, `"href":"https://bank.example/next"`) {
		t.Error("a link's href is not fetched and must stay")
	}
	for _, want := range []string{"https://cdn.example/site.css", "https://img.example/a.png", "https://img.example/a@2x.png", "https://bank.example/app/poster.jpg", "https://bank.example/img/hero.jpg", "https://bank.example/app/bg.png"} {
		found := false
		for key := range reg.issued {
			u, _ := reg.lookup(key)
			found = found || u == want
		}
		if !found {
			t.Errorf("%s was not registered (relative references resolve against the page)", want)
		}
	}
	if strings.Count(out, "/api/sessions/sess1/assets/") < 7 {
		t.Errorf("expected the references rewritten to asset paths:\n%s", out)
	}
}

func TestRewriterFollowsLaterChanges(t *testing.T) {
	rw, _ := newRewriter(t)
	snap := `{"type":2,"timestamp":2,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"link","attributes":{"rel":"icon","href":"https://cdn.example/a.ico"},"childNodes":[]},{"type":2,"id":3,"tagName":"style","attributes":{},"childNodes":[{"type":3,"id":4,"textContent":"","isStyle":true}]},{"type":2,"id":5,"tagName":"a","attributes":{},"childNodes":[]}]}}}`
	mutation := `{"type":3,"timestamp":3,"data":{"source":0,"texts":[{"id":4,"value":"p{background:url(https://cdn.example/p.png)}"}],"attributes":[{"id":2,"attributes":{"href":"https://cdn.example/b.ico"}},{"id":5,"attributes":{"href":"https://bank.example/x"}}],"removes":[],"adds":[{"parentId":1,"nextId":null,"node":{"type":2,"id":6,"tagName":"img","attributes":{"src":"https://cdn.example/later.png"},"childNodes":[]}}]}}`
	rules := `{"type":3,"timestamp":4,"data":{"source":8,"id":3,"adds":[{"rule":"q{background:url(https://cdn.example/q.png)}","index":0}]}}`
	decl := `{"type":3,"timestamp":5,"data":{"source":13,"id":3,"index":[0],"set":{"property":"background","value":"url(https://cdn.example/r.png)"}}}`
	adopted := `{"type":3,"timestamp":6,"data":{"source":15,"id":1,"styleIds":[1],"styles":[{"styleId":1,"rules":[{"rule":"s{background:url(https://cdn.example/s.png)}"}]}]}}`
	out := run(t, rw, meta, snap, mutation, rules, decl, adopted)
	all := strings.Join(out, "\n")
	if strings.Contains(all, "cdn.example") {
		t.Errorf("a later change still names the CDN:\n%s", all)
	}
	if !strings.Contains(out[2], `"href":"https://bank.example/x"`) {
		t.Errorf("an anchor's href changed: %s", out[2])
	}
}

func TestRewriterPassesEventsWithoutReferencesUntouched(t *testing.T) {
	rw, _ := newRewriter(t)
	ev := `{"type":3,"data":{"source":1,"positions":[{"x":1,"y":2,"id":3,"timeOffset":0}]},"timestamp":12345678901234}`
	if out := run(t, rw, ev); out[0] != ev {
		t.Fatalf("changed: %s", out[0])
	}
}

func TestRegistryIsBounded(t *testing.T) {
	seal := mustSealer(t, nil)
	reg := newRegistry("s", seal, 2)
	a, b := reg.path("https://x.example/a"), reg.path("https://x.example/b")
	if a == b || !strings.HasPrefix(a, "/api/sessions/s/assets/") {
		t.Fatalf("paths %s %s", a, b)
	}
	if again := reg.path("https://x.example/a"); again != a {
		t.Fatal("the same URL got a second path")
	}
	if c := reg.path("https://x.example/c"); c != placeholderImage {
		t.Fatalf("a full registry gave %s, want the placeholder", c)
	}
	if p := reg.path("https://x.example/" + strings.Repeat("x", maxURL)); p != placeholderImage {
		t.Fatal("an overlong URL was registered")
	}
	if strings.Contains(a, "x.example") {
		t.Fatalf("the key shows its URL: %s", a)
	}
}

// Keys are sealed under the deployment's secret: any node with the secret
// reads them back, nobody else, and a key works only for its session.
func TestKeysWorkOnEveryNodeOfTheDeploymentAndNowhereElse(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	made := newRegistry("s1", mustSealer(t, secret), 10).path("https://x.example/a.png")
	key := made[strings.LastIndex(made, "/")+1:]
	if u, ok := newRegistry("s1", mustSealer(t, secret), 10).lookup(key); !ok || u != "https://x.example/a.png" {
		t.Fatalf("another node of the deployment read %q, %v", u, ok)
	}
	if _, ok := newRegistry("s2", mustSealer(t, secret), 10).lookup(key); ok {
		t.Fatal("a key worked for another session")
	}
	if _, ok := newRegistry("s1", mustSealer(t, nil), 10).lookup(key); ok {
		t.Fatal("a key worked under another secret")
	}
	tampered := []byte(key)
	tampered[len(tampered)/2] ^= 1
	if _, ok := newRegistry("s1", mustSealer(t, secret), 10).lookup(string(tampered)); ok {
		t.Fatal("a changed key was accepted")
	}
}

func mustSealer(t *testing.T, secret []byte) *sealer {
	t.Helper()
	s, err := newSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPublicAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"203.0.113.9": true, "2001:db8::1": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "100.64.0.1": false, "fd00::1": false, "0.0.0.0": false,
		"::ffff:127.0.0.1": false,
	} {
		if got := public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// The guard, against a real server on loopback.
func TestFetchGuard(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.png", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "" {
			t.Error("a fetch carried cookies")
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("png"))
	})
	mux.HandleFunc("/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<p>hi</p>"))
	})
	mux.HandleFunc("/big.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(make([]byte, 2<<20))
	})
	mux.HandleFunc("/slow.png", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("elsewhere"))
	}))
	defer other.Close()
	mux.HandleFunc("/away.png", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x.png", http.StatusFound)
	})
	mux.HandleFunc("/here.png", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok.png", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()

	f := newFetcher(testConfig().Fetch)
	if _, err := f.get(ctx, srv.URL+"/ok.png"); !errors.Is(err, ErrOriginNotAllowed) {
		t.Errorf("an origin never allowed: %v", err)
	}
	if err := f.allow(srv.URL, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.get(ctx, srv.URL+"/ok.png"); !errors.Is(err, ErrAddressRefused) {
		t.Errorf("loopback without the operator's opt-in: %v", err)
	}
	if err := f.allow(srv.URL, true); err != nil {
		t.Fatal(err)
	}
	if fl, err := f.get(ctx, srv.URL+"/ok.png"); err != nil || string(fl.body) != "png" {
		t.Errorf("allowed file: %q %v", fl.body, err)
	}
	if fl, err := f.get(ctx, srv.URL+"/here.png"); err != nil || string(fl.body) != "png" {
		t.Errorf("redirect within the origin: %q %v", fl.body, err)
	}
	if _, err := f.get(ctx, srv.URL+"/away.png"); !errors.Is(err, ErrOriginNotAllowed) {
		t.Errorf("redirect off the list: %v", err)
	}
	if _, err := f.get(ctx, srv.URL+"/page.html"); !errors.Is(err, ErrContentType) {
		t.Errorf("an HTML page: %v", err)
	}
	if _, err := f.get(ctx, srv.URL+"/big.png"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 2 MiB file over a 1 MiB cap: %v", err)
	}
	start := time.Now()
	if _, err := f.get(ctx, srv.URL+"/slow.png"); err == nil {
		t.Error("a file that never comes was served")
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("a slow origin held the fetch for %s; the cap is 2 s", took)
	}
	if _, err := f.get(ctx, srv.URL+"/missing.png"); !errors.Is(err, ErrStatus) {
		t.Errorf("a 404: %v", err)
	}
}

func TestCacheIsBoundedInBytes(t *testing.T) {
	c := newCache(10, time.Minute)
	c.put("a", file{body: []byte("12345")})
	c.put("b", file{body: []byte("12345")})
	c.get("a") // a is now the most recently used
	c.put("c", file{body: []byte("12345")})
	if _, ok := c.get("b"); ok {
		t.Error("the least recently used file was kept over the bound")
	}
	if _, ok := c.get("a"); !ok {
		t.Error("a recently used file was dropped")
	}
	if c.bytes() > 10 {
		t.Errorf("cache holds %d bytes, bound 10", c.bytes())
	}
	c.put("huge", file{body: make([]byte, 11)})
	if _, ok := c.get("huge"); ok {
		t.Error("a file larger than the whole cache was kept")
	}
}

func TestServeRewritesStylesheetsAndHidesFailures(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/css/site.css":
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			w.Write([]byte(`@font-face{src:url(../fonts/a.woff2)} body{background:url("/img/bg.png")}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	s := mustService(t, testConfig())
	if err := s.AllowOrigin(site.URL, true); err != nil {
		t.Fatal(err)
	}
	rw, err := s.Rewriter("sess1")
	if err != nil {
		t.Fatal(err)
	}
	cssPath := rw.reg.path(site.URL + "/css/site.css")
	get := func(path, dest string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Sec-Fetch-Dest", dest)
		rec := httptest.NewRecorder()
		s.Serve(rec, req, "sess1", path[strings.LastIndex(path, "/")+1:])
		return rec
	}
	rec := get(cssPath, "style")
	body := rec.Body.String()
	if rec.Code != 200 || strings.Contains(body, site.URL) || strings.Count(body, "/api/sessions/sess1/assets/") != 2 {
		t.Fatalf("stylesheet served as %d %q", rec.Code, body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Errorf("page files must be served sandboxed, CSP %q", csp)
	}
	// The image the stylesheet names is missing: the staff browser gets a
	// transparent pixel, not a broken image.
	img := strings.TrimSuffix(strings.SplitN(body, `url("`, 3)[2], `")}`)
	rec = get(img, "image")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/gif" {
		t.Fatalf("missing image: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := get("/api/sessions/sess1/assets/unknownkey", "image"); rec.Code != 404 {
		t.Errorf("a key the session never named: %d", rec.Code)
	}
}

func TestFilesFromTheCustomersBrowser(t *testing.T) {
	s := mustService(t, testConfig())
	rw, err := s.Rewriter("sess1")
	if err != nil {
		t.Fatal(err)
	}
	path := rw.reg.path("blob:https://bank.example/4b1f")
	key := path[strings.LastIndex(path, "/")+1:]
	asked := make(chan int64, 4)
	s.SetAsker(func(sessionID string, id int64, url string) error {
		if sessionID != "sess1" || url != "blob:https://bank.example/4b1f" {
			t.Errorf("asked %s for %s", sessionID, url)
		}
		asked <- id
		return nil
	})
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Sec-Fetch-Dest", "image")
		rec := httptest.NewRecorder()
		s.Serve(rec, req, "sess1", key)
		return rec
	}
	// An answer of a type a page may not use is dropped: the staff get the placeholder.
	go func() { s.Deliver("sess1", <-asked, "text/html", []byte("<script>")) }()
	if rec := serve(); rec.Header().Get("Content-Type") != "image/gif" || strings.Contains(rec.Body.String(), "script") {
		t.Fatalf("an HTML answer was served: %q %q", rec.Header().Get("Content-Type"), rec.Body.String())
	}
	// No answer within the wait: the placeholder, and the request is forgotten.
	start := time.Now()
	if rec := serve(); rec.Header().Get("Content-Type") != "image/gif" {
		t.Fatalf("no answer served %q", rec.Header().Get("Content-Type"))
	}
	<-asked
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("waited %s for a silent customer; the wait is 1 s", took)
	}
	// A real answer is served, and kept for the session.
	go func() { s.Deliver("sess1", <-asked, "image/png", []byte("png-bytes")) }()
	if rec := serve(); rec.Body.String() != "png-bytes" {
		t.Fatalf("served %q", rec.Body.String())
	}
	if rec := serve(); rec.Body.String() != "png-bytes" || len(asked) != 0 {
		t.Fatal("the customer was asked twice for the same file")
	}
}

func TestCanvasBecomesABoxOfItsSize(t *testing.T) {
	rw, _ := newRewriter(t)
	snap := `{"type":2,"timestamp":2,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"canvas","attributes":{"rr_width":"300px","rr_height":"150px"},"childNodes":[]}]}}}`
	out := run(t, rw, meta, snap)[1]
	if !strings.Contains(out, `"tagName":"span"`) || !strings.Contains(out, `"rr_width":"300px"`) || !strings.Contains(out, "inline-block") {
		t.Fatalf("canvas replayed as %s", out)
	}
}

// Live events that name no file (mouse moves, scrolls, typing, most DOM
// changes) are relayed without being decoded: the rewriter is on every
// customer message's path.
func TestRewriterDoesNotDecodeEventsWithoutReferences(t *testing.T) {
	rw, _ := newRewriter(t)
	evs := []json.RawMessage{
		json.RawMessage(`{"type":3,"data":{"source":1,"positions":[{"x":1,"y":2,"id":3,"timeOffset":0}]},"timestamp":1}`),
		json.RawMessage(`{"type":3,"data":{"source":0,"texts":[],"attributes":[{"id":88,"attributes":{"class":"card open"}}],"removes":[],"adds":[{"parentId":88,"nextId":null,"node":{"type":2,"tagName":"p","attributes":{"class":"answer"},"childNodes":[],"id":412}}]},"timestamp":2}`),
		json.RawMessage(`{"type":3,"data":{"source":5,"text":"••••••","isChecked":false,"id":61},"timestamp":3}`),
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := rewrite(rw, evs); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per batch without file references: the events were decoded", n)
	}
}

// rewrite rewrites a batch in place the way the relay does, event by
// event, and returns it.
func rewrite(rw *Rewriter, evs []json.RawMessage) ([]json.RawMessage, error) {
	var d rrweb.Doc
	for i, raw := range evs {
		if !d.Reset(raw) {
			return nil, errors.New("asset rewrite: malformed event")
		}
		if err := rw.Event(&d); err != nil {
			return nil, err
		}
		out, err := d.Bytes()
		if err != nil {
			return nil, fmt.Errorf("asset rewrite: %w", err)
		}
		evs[i] = out
	}
	return evs, nil
}
