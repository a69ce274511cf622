package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tomoni-cobrowse/tomoni/internal/assets"
	"github.com/tomoni-cobrowse/tomoni/internal/audit"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/relay"
	"github.com/tomoni-cobrowse/tomoni/internal/rrweb"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
	"github.com/tomoni-cobrowse/tomoni/internal/store/sqlite"
	"github.com/tomoni-cobrowse/tomoni/web"
)

const siteOrigin = "http://bank.test"

type harness struct {
	t       *testing.T
	metrics *metrics
	srv     *httptest.Server
	db      *sqlite.DB
	mgr     *session.Manager
	files   *assets.Service
	aud     *audit.Log
	server  *Server
	staff   store.Staff
}

var fastHash = auth.Params{Memory: 1024, Time: 1, Threads: 1}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newHarness(t *testing.T, mutate func(*config.Config)) *harness {
	return newHarnessAt(t, mutate, nil, io.Discard)
}

func newHarnessAt(t *testing.T, mutate func(*config.Config), now func() time.Time, logOut io.Writer) *harness {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	t.Cleanup(ts.Close)
	cfg := config.Default()
	cfg.PublicURL = "http://" + ts.Listener.Addr().String()
	cfg.SiteOrigins = []string{siteOrigin}
	cfg.LoginBurst = 3
	cfg.JoinBurst = 3
	if mutate != nil {
		mutate(&cfg)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(logOut, nil))
	mgr, err := session.NewManager(session.FromConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	pol := policy.Default()
	pageFiles, err := assets.New(assets.FromConfig(cfg, nil), log)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := relay.New(relay.FromConfig(cfg, &pol), mgr, pageFiles, broker.NewMemory(), reg, log)
	if err != nil {
		t.Fatal(err)
	}
	aud, err := audit.New(db, log, now)
	if err != nil {
		t.Fatal(err)
	}
	aud.Follow(mgr)
	pageFiles.Follow(mgr)
	srv, err := New(Options{Config: cfg, Store: db, Audit: aud, Sessions: mgr, Relay: rl, PageFiles: pageFiles, Web: web.Dist(), Registry: reg, Log: log, HashParams: fastHash, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := auth.HashPassword("right-password", fastHash)
	st, err := db.CreateStaff(context.Background(), store.Staff{Username: "sato", DisplayName: "佐藤", PasswordHash: h})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	return &harness{t: t, srv: ts, db: db, mgr: mgr, files: pageFiles, aud: aud, server: srv, staff: st, metrics: srv.metrics}
}

type reqOpt func(*http.Request)

func withOrigin(o string) reqOpt          { return func(r *http.Request) { r.Header.Set("Origin", o) } }
func withCookie(c *http.Cookie) reqOpt    { return func(r *http.Request) { r.AddCookie(c) } }
func withHeader(k, v string) reqOpt       { return func(r *http.Request) { r.Header.Set(k, v) } }
func (h *harness) self() reqOpt           { return withOrigin(h.srv.URL) }
func (h *harness) url(path string) string { return h.srv.URL + path }

func (h *harness) do(method, path, body string, opts ...reqOpt) (*http.Response, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url(path), strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

func (h *harness) login() (*http.Cookie, string) {
	h.t.Helper()
	res, m := h.do("POST", "/api/login", `{"username":"sato","password":"right-password"}`, h.self())
	if res.StatusCode != 200 {
		h.t.Fatalf("login: %d %v", res.StatusCode, m)
	}
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			return c, m["csrf"].(string)
		}
	}
	h.t.Fatal("no cookie")
	return nil, ""
}

func TestLogin(t *testing.T) {
	h := newHarness(t, nil)
	t.Run("wrong password is refused and audited", func(t *testing.T) {
		res, m := h.do("POST", "/api/login", `{"username":"sato","password":"wrong"}`, h.self())
		if res.StatusCode != 401 || m["error"] != "bad_credentials" {
			t.Fatalf("%d %v", res.StatusCode, m)
		}
		rows, _ := h.db.ListAudit(context.Background(), store.AuditQuery{Limit: 1})
		if len(rows) != 1 || rows[0].Kind != store.AuditLoginFailed || rows[0].ClientHash == "" || strings.Contains(rows[0].ClientHash, "127.0.0.1") {
			t.Fatalf("audit %+v", rows)
		}
	})
	t.Run("cookie is HttpOnly and SameSite=Strict", func(t *testing.T) {
		c, csrf := h.login()
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure {
			t.Fatalf("cookie %+v", c)
		}
		if csrf == "" {
			t.Fatal("no CSRF token")
		}
	})
	t.Run("login from another origin is refused", func(t *testing.T) {
		res, _ := h.do("POST", "/api/login", `{"username":"sato","password":"right-password"}`, withOrigin("http://evil.test"))
		if res.StatusCode != 403 {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
	t.Run("attempts are rate limited", func(t *testing.T) {
		h := newHarness(t, nil)
		codes := []int{}
		for range 5 {
			res, _ := h.do("POST", "/api/login", `{"username":"sato","password":"nope"}`, h.self())
			codes = append(codes, res.StatusCode)
		}
		if codes[2] != 401 || codes[3] != 429 || codes[4] != 429 {
			t.Fatalf("statuses %v, want 401×3 then 429", codes)
		}
		// Even the right password waits out the limit.
		res, _ := h.do("POST", "/api/login", `{"username":"sato","password":"right-password"}`, h.self())
		if res.StatusCode != 429 {
			t.Fatalf("right password during lockout: %d", res.StatusCode)
		}
	})
	t.Run("strangers cannot lock an account out", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) {
			c.TrustedProxies = []string{"127.0.0.0/8", "::1/128"}
			c.Bounds.LoginUserWait = 50 * time.Millisecond
		})
		from := func(client, pass string) int {
			res, _ := h.do("POST", "/api/login", `{"username":"sato","password":"`+pass+`"}`, h.self(), withHeader("X-Forwarded-For", client))
			return res.StatusCode
		}
		for i := range 10 { // 10 wrong passwords from 10 networks
			if got := from(fmt.Sprintf("198.51.%d.7", i), "nope"); got != 401 {
				t.Fatalf("stranger %d: %d", i, got)
			}
		}
		if got := from("203.0.113.9", "right-password"); got != 200 {
			t.Fatalf("the account's owner after strangers' failures: %d, want 200", got)
		}
		// Many addresses of one network share the username's limit there.
		codes := []int{}
		for i := range 5 {
			codes = append(codes, from(fmt.Sprintf("192.0.2.%d", i+1), "nope"))
		}
		if codes[2] != 401 || codes[3] != 429 || codes[4] != 429 {
			t.Fatalf("one network's guesses: %v, want 401×3 then 429", codes)
		}
	})
	t.Run("failed logins keep the username only when the account exists", func(t *testing.T) {
		h := newHarness(t, nil)
		h.do("POST", "/api/login", `{"username":"Pa55word!typed-here","password":"x"}`, h.self())
		h.do("POST", "/api/login", `{"username":"sato","password":"x"}`, h.self())
		rows, _ := h.db.ListAudit(context.Background(), store.AuditQuery{Limit: 10})
		if len(rows) != 2 || rows[1].Username != "" || rows[0].Username != "sato" {
			t.Fatalf("audit %+v: want no username for the unknown one, sato for the other", rows)
		}
	})
	t.Run("secure cookie behind https", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.PublicURL = "https://cobrowse.bank.test" })
		res, m := h.do("POST", "/api/login", `{"username":"sato","password":"right-password"}`, withOrigin("https://cobrowse.bank.test"))
		if res.StatusCode != 200 {
			t.Fatalf("login: %d %v", res.StatusCode, m)
		}
		var got *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == SecureCookieName {
				got = c
			}
		}
		if got == nil || got.Value == "" {
			t.Fatalf("login set no %s cookie: %v", SecureCookieName, res.Header.Values("Set-Cookie"))
		}
		if !got.Secure || !got.HttpOnly || got.SameSite != http.SameSiteStrictMode || got.Path != "/" || got.Domain != "" {
			t.Fatalf("cookie %+v: want a __Host- cookie: Secure, HttpOnly, SameSite=Strict, Path=/, no Domain", got)
		}
		if hsts := res.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
			t.Fatalf("no HSTS under an https public URL: %q", hsts)
		}
		// The cookie works under its own name, and only under it.
		csrf := m["csrf"].(string)
		if res, _ := h.do("GET", "/api/me", "", withCookie(got)); res.StatusCode != 200 {
			t.Fatalf("the __Host- cookie does not log in: %d", res.StatusCode)
		}
		plain := &http.Cookie{Name: CookieName, Value: got.Value}
		if res, _ := h.do("POST", "/api/sessions", "", withOrigin("https://cobrowse.bank.test"), withCookie(plain), withHeader(csrfHeader, csrf)); res.StatusCode != 401 {
			t.Fatalf("a cookie without the __Host- prefix was accepted: %d", res.StatusCode)
		}
	})
	t.Run("no HSTS over plain http", func(t *testing.T) {
		h := newHarness(t, nil)
		if res, _ := h.do("GET", "/console/", ""); res.Header.Get("Strict-Transport-Security") != "" {
			t.Fatal("HSTS sent for an http deployment")
		}
	})
}

// The console's Origin must be the public URL's scheme, host and port; the
// Host header does not count, so a page on a DNS name rebound to this
// server cannot log in or act.
func TestOriginIsThePublicURL(t *testing.T) {
	h := newHarness(t, nil)
	port := h.srv.Listener.Addr().(*net.TCPAddr).Port
	login := `{"username":"sato","password":"right-password"}`
	for name, o := range map[string]reqOpt{
		"rebound DNS name, Host to match": func(r *http.Request) {
			r.Host = fmt.Sprintf("evil.test:%d", port)
			r.Header.Set("Origin", fmt.Sprintf("http://evil.test:%d", port))
		},
		"other scheme":  withOrigin(fmt.Sprintf("https://127.0.0.1:%d", port)),
		"other port":    withOrigin(fmt.Sprintf("http://127.0.0.1:%d", port+1)),
		"a site origin": withOrigin(siteOrigin),
		"null":          withOrigin("null"),
	} {
		if res, m := h.do("POST", "/api/login", login, o); res.StatusCode != 403 {
			t.Errorf("%s: %d %v", name, res.StatusCode, m)
		}
	}
	// The loopback URL's other spellings are the same machine.
	for _, o := range []string{fmt.Sprintf("http://localhost:%d", port), fmt.Sprintf("http://127.0.0.1:%d", port)} {
		if res, m := h.do("POST", "/api/login", login, withOrigin(o)); res.StatusCode != 200 {
			t.Errorf("%s: %d %v", o, res.StatusCode, m)
		}
	}
}

// /metrics is not on the public listener: how many codes wait is for
// operators.
func TestMetricsOnlyOnTheOperatorsListener(t *testing.T) {
	h := newHarness(t, nil)
	if res, _ := h.do("GET", "/metrics", ""); res.StatusCode != 404 {
		t.Fatalf("public /metrics: %d", res.StatusCode)
	}
}

func TestStaffAPIRequiresLoginCSRFAndOrigin(t *testing.T) {
	h := newHarness(t, nil)
	c, csrf := h.login()
	if res, _ := h.do("POST", "/api/sessions", "", h.self()); res.StatusCode != 401 {
		t.Fatalf("no cookie: %d", res.StatusCode)
	}
	if res, m := h.do("POST", "/api/sessions", "", h.self(), withCookie(c)); res.StatusCode != 403 || m["error"] != "csrf" {
		t.Fatalf("no CSRF token: %d %v", res.StatusCode, m)
	}
	if res, _ := h.do("POST", "/api/sessions", "", withOrigin("http://evil.test"), withCookie(c), withHeader(csrfHeader, csrf)); res.StatusCode != 403 {
		t.Fatalf("foreign origin: %d", res.StatusCode)
	}
	res, m := h.do("POST", "/api/sessions", "", h.self(), withCookie(c), withHeader(csrfHeader, csrf))
	if res.StatusCode != 201 || len(m["code"].(string)) != 6 {
		t.Fatalf("create: %d %v", res.StatusCode, m)
	}
	if ms := m["expires_in_ms"].(float64); ms < 599_000 || ms > 600_000 {
		t.Fatalf("expires in %v ms, want about 10 minutes", ms)
	}
	// Another staff member's session is not found, for the API and the socket.
	other, _ := h.mgr.Create(999, "other")
	if res, _ := h.do("POST", "/api/sessions/"+other.ID+"/end", "", h.self(), withCookie(c), withHeader(csrfHeader, csrf)); res.StatusCode != 404 {
		t.Fatalf("ending someone else's session: %d", res.StatusCode)
	}
	if res, _ := h.do("GET", "/api/sessions/"+other.ID+"/ws", "", h.self(), withCookie(c)); res.StatusCode != 404 {
		t.Fatalf("socket to someone else's session: %d", res.StatusCode)
	}
	if g, _ := h.mgr.Get(other.ID); g.State != session.Waiting {
		t.Fatal("someone else's session was changed")
	}
	if n := testutil.ToFloat64(h.metrics.denied.WithLabelValues("not_own_session")); n != 2 {
		t.Fatalf("denied counter %v, want 2", n)
	}
}

func TestJoin(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.JoinBurst = 10; c.Bounds.JoinPollWait = 100 * time.Millisecond })
	s, err := h.mgr.Create(h.staff.ID, "佐藤")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("foreign origin is refused", func(t *testing.T) {
		res, _ := h.do("POST", "/api/join", `{"code":"`+s.Code+`"}`, withOrigin("http://evil.test"))
		if res.StatusCode != 403 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("status %d, ACAO %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("preflight answers the site origin", func(t *testing.T) {
		res, _ := h.do("OPTIONS", "/api/join", "", withOrigin(siteOrigin))
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != siteOrigin {
			t.Fatalf("preflight %d %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("unknown fields and oversized bodies are bad requests", func(t *testing.T) {
		if res, m := h.do("POST", "/api/join", `{"code":"123456","admin":true}`, withOrigin(siteOrigin)); res.StatusCode != 400 || m["error"] != "bad_request" {
			t.Fatalf("unknown field: %d %v", res.StatusCode, m)
		}
		// A valid object padded past the 16 KiB cap, and one whose only
		// field is that long: both refused before being read in full.
		padded := `{"code":"` + s.Code + `"}` + strings.Repeat(" ", maxBody)
		long := `{"code":"` + strings.Repeat("1", maxBody) + `"}`
		for name, body := range map[string]string{"padded": padded, "long field": long} {
			res, m := h.do("POST", "/api/join", body, withOrigin(siteOrigin))
			if res.StatusCode != http.StatusRequestEntityTooLarge || m["error"] != "too_large" {
				t.Fatalf("%s body of %d bytes: %d %v", name, len(body), res.StatusCode, m)
			}
		}
		if g, _ := h.mgr.Get(s.ID); g.State != session.Waiting {
			t.Fatalf("an oversized join changed the session to %s", g.State)
		}
		// Just under the cap is an ordinary (wrong) request, not a size error.
		under := `{"code":"000000"}` + strings.Repeat(" ", maxBody-len(`{"code":"000000"}`))
		if res, m := h.do("POST", "/api/join", under, withOrigin(siteOrigin)); res.StatusCode == http.StatusRequestEntityTooLarge {
			t.Fatalf("a body of exactly %d bytes was refused as too large: %v", len(under), m)
		}
	})
	t.Run("right code places a request; the staff name comes only with the admission", func(t *testing.T) {
		res, m := h.do("POST", "/api/join", `{"code":"`+s.Code+`","device":"phone"}`, withOrigin(siteOrigin),
			withHeader("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"))
		tok, _ := m["token"].(string)
		check, _ := m["check"].(string)
		if res.StatusCode != http.StatusAccepted || tok == "" || len(check) != 2 || m["staff_name"] != nil || m["session"] != nil {
			t.Fatalf("%d %v", res.StatusCode, m)
		}
		g, _ := h.mgr.Get(s.ID)
		if g.State != session.Waiting || len(g.Requests) != 1 || g.Requests[0].Check != check || g.Requests[0].Device != "phone" || g.Requests[0].Browser != "Safari / iOS" {
			t.Fatalf("session %+v", g)
		}
		if _, m := h.do("POST", "/api/join/wait", `{"token":"`+tok+`"}`, withOrigin(siteOrigin)); m["status"] != "pending" || m["check"] != check || m["staff_name"] != nil {
			t.Fatalf("poll before admission: %v", m)
		}
		done := make(chan map[string]any)
		go func() { // the customer's page polls until the staff decides
			for {
				_, m := h.do("POST", "/api/join/wait", `{"token":"`+tok+`"}`, withOrigin(siteOrigin))
				if m["status"] != "pending" {
					done <- m
					return
				}
			}
		}()
		c, csrf := h.login()
		res, m = h.do("POST", "/api/sessions/"+s.ID+"/requests/"+g.Requests[0].ID+"/admit", "", h.self(), withCookie(c), withHeader(csrfHeader, csrf))
		if res.StatusCode != 200 || m["state"] != "live" {
			t.Fatalf("admit: %d %v", res.StatusCode, m)
		}
		if m := <-done; m["status"] != "admitted" || m["staff_name"] != "佐藤" || m["session"] != s.ID {
			t.Fatalf("the waiting poll heard %v", m)
		}
		if g, _ := h.mgr.Get(s.ID); g.State != session.Live || g.Device != "phone" || g.Code != "" {
			t.Fatalf("session %+v", g)
		}
	})
	t.Run("wrong codes get invalid_code, then the address is limited", func(t *testing.T) {
		h := newHarness(t, nil)
		var got []string
		for range 5 {
			_, m := h.do("POST", "/api/join", `{"code":"000001"}`, withOrigin(siteOrigin))
			got = append(got, m["error"].(string))
		}
		want := []string{"invalid_code", "invalid_code", "invalid_code", "rate_limited", "rate_limited"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("errors %v, want %v", got, want)
		}
		// One row per burst and reason, with its count.
		h.aud.Flush(context.Background())
		rows, _ := h.db.ListAudit(context.Background(), store.AuditQuery{Limit: 10})
		if len(rows) != 2 || rows[0].Reason != "rate_limited" || rows[0].Count != 2 || rows[1].Reason != "invalid_code" || rows[1].Count != 3 {
			t.Fatalf("audit rows %+v", rows)
		}
	})
}

func TestConsoleHeaders(t *testing.T) {
	h := newHarness(t, nil)
	res, _ := h.do("GET", "/console/", "")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "img-src 'self' data:;", "font-src 'self' data:;", "media-src 'self' data:;", "frame-src 'self';"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// The staff browser talks to Tomoni only: not even the bank's own origin.
	if strings.Contains(csp, siteOrigin) || strings.Contains(csp, "http:") || strings.Contains(csp, "https:") || strings.Contains(csp, "*") {
		t.Errorf("CSP lets the console reach another host: %q", csp)
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Errorf("CSP allows script: %q", csp)
	}
	for _, f := range []string{"/sdk.js", "/sdk-capture.js"} {
		res, _ = h.do("GET", f, "")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || res.Header.Get("Cache-Control") != "public, max-age=300" || res.Header.Get("ETag") == "" {
			t.Fatalf("%s: %d %v", f, res.StatusCode, res.Header)
		}
		res2, _ := h.do("GET", f, "", withHeader("If-None-Match", res.Header.Get("ETag")))
		if res2.StatusCode != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d, want 304", f, res2.StatusCode)
		}
	}
	// Sites that integrate from TypeScript get the types beside the script.
	req, _ := http.NewRequest("GET", h.url("/sdk.d.ts"), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(body), "interface TomoniAPI") || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/sdk.d.ts: %d %q %.80q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}

// joinFrom posts a join from a given client address, bypassing the network.
func (h *harness) joinFrom(handler http.Handler, addr, code string) string {
	req := httptest.NewRequest("POST", "/api/join", strings.NewReader(`{"code":"`+code+`"}`))
	req.Header.Set("Origin", siteOrigin)
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	var m map[string]any
	json.NewDecoder(rec.Body).Decode(&m)
	if rec.Code == http.StatusAccepted {
		return "ok"
	}
	return m["error"].(string)
}

func TestThousandWrongCodesFromOneAddressAreCutOff(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	h := newHarnessAt(t, func(c *config.Config) {
		c.JoinBurst, c.JoinPerMinute = 10, 3
	}, clk.Now, io.Discard)
	handler := h.srv.Config.Handler
	counts := map[string]int{}
	for i := range 1000 {
		counts[h.joinFrom(handler, "203.0.113.7", fmt.Sprintf("%06d", 100000+i))]++
		clk.Add(100 * time.Millisecond) // 1,000 attempts over 100 s
	}
	// 10 at once, then 3 a minute: 10 + 5 over the 100 s.
	if counts["invalid_code"] > 15 || counts["rate_limited"] < 985 {
		t.Fatalf("answers %v: the per-address limit did not cut the guesser off", counts)
	}
	// Another address is unaffected.
	if got := h.joinFrom(handler, "198.51.100.1", "000000"); got != "invalid_code" {
		t.Fatalf("other address got %q", got)
	}
}

// While wrong codes pour in from 1,000 addresses as fast as the
// per-address limits allow, the customer with the right code gets in at the
// first try, and the only deployment-wide reaction is an alert.
func TestGuessersCannotLockOutTheRightCode(t *testing.T) {
	logs := &strings.Builder{}
	var logMu sync.Mutex
	h := newHarnessAt(t, func(c *config.Config) {
		c.JoinBurst = 2
	}, nil, writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) }))
	handler := h.srv.Config.Handler
	good, _ := h.mgr.Create(h.staff.ID, "佐藤")
	var wrong, limited atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := w; ; i += 8 {
				select {
				case <-stop:
					return
				default:
				}
				addr := fmt.Sprintf("10.%d.%d.1", (i%1000)/250, (i%1000)%250)
				switch h.joinFrom(handler, addr, fmt.Sprintf("%06d", (i*7919)%1_000_000)) {
				case "invalid_code":
					wrong.Add(1)
				case "rate_limited":
					limited.Add(1)
				}
			}
		})
	}
	// Every address has used its burst and is being refused.
	for wrong.Load() < 2000 || limited.Load() < 1000 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	got := h.joinFrom(handler, "198.51.100.9", good.Code)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	t.Logf("right code answered in %s while %d wrong codes and %d refusals went by", took, wrong.Load(), limited.Load())
	if got != "ok" {
		t.Fatalf("right code at the first try: %q", got)
	}
	if took > 2*time.Second {
		t.Fatalf("right code took %s under attack, want under 2 s", took)
	}
	logMu.Lock()
	alerted := strings.Contains(logs.String(), "ALERT: many wrong join codes")
	logMu.Unlock()
	if !alerted || testutil.ToFloat64(h.metrics.guessAlerts) < 1 {
		t.Fatal("no alert logged or counted")
	}
}

// A guesser who hits a code gets a place in the staff's list and nothing
// else: no staff name, no socket, and staff turn the request away.
func TestAHitCodeYieldsNothingWithoutAdmission(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.JoinBurst = 20
		c.TrustedProxies = []string{"127.0.0.0/8", "::1/128"}
		c.Bounds.JoinPollWait = time.Millisecond
	})
	s, _ := h.mgr.Create(h.staff.ID, "佐藤")
	join := func(client string) map[string]any {
		res, m := h.do("POST", "/api/join", `{"code":"`+s.Code+`"}`, withOrigin(siteOrigin), withHeader("X-Forwarded-For", client))
		if res.StatusCode != http.StatusAccepted && m["error"] == nil {
			t.Fatalf("join from %s: %d %v", client, res.StatusCode, m)
		}
		return m
	}
	attacker := join("203.0.113.66")
	atok := attacker["token"].(string)
	if attacker["staff_name"] != nil {
		t.Fatalf("the guesser learned the staff name: %v", attacker)
	}
	if _, m := h.do("POST", "/api/join/wait", `{"token":"`+atok+`"}`, withOrigin(siteOrigin)); m["status"] != "pending" || m["staff_name"] != nil {
		t.Fatalf("guesser's poll: %v", m)
	}
	if _, err := h.mgr.ByToken(atok); err == nil {
		t.Fatal("a pending request's token opens the customer socket")
	}
	// The same client asking again replaces its request rather than piling up.
	attacker = join("203.0.113.66")
	atok = attacker["token"].(string)
	customer := join("198.51.100.20")
	if customer["check"] == attacker["check"] {
		t.Fatalf("two requests show the same check number %v", customer["check"])
	}
	g, _ := h.mgr.Get(s.ID)
	if len(g.Requests) != 2 {
		t.Fatalf("%d requests listed, want 2 (one per client)", len(g.Requests))
	}
	// More distinct clients than a code may hold: the extra one is told so.
	join("198.51.100.21")
	join("198.51.100.22")
	if m := join("198.51.100.23"); m["error"] != "too_many_requests" {
		t.Fatalf("fifth request: %v", m)
	}
	// Staff admit the request whose number the customer read out.
	var admit, other string
	g, _ = h.mgr.Get(s.ID)
	for _, r := range g.Requests {
		switch r.Check {
		case customer["check"]:
			admit = r.ID
		case attacker["check"]:
			other = r.ID
		}
	}
	c, csrf := h.login()
	if res, _ := h.do("POST", "/api/sessions/"+s.ID+"/requests/"+other+"/decline", "", h.self(), withCookie(c), withHeader(csrfHeader, csrf)); res.StatusCode != http.StatusNoContent {
		t.Fatalf("decline: %d", res.StatusCode)
	}
	if _, m := h.do("POST", "/api/join/wait", `{"token":"`+atok+`"}`, withOrigin(siteOrigin)); m["status"] != "declined" || m["staff_name"] != nil {
		t.Fatalf("declined guesser's poll: %v", m)
	}
	if res, m := h.do("POST", "/api/sessions/"+s.ID+"/requests/"+admit+"/admit", "", h.self(), withCookie(c), withHeader(csrfHeader, csrf)); res.StatusCode != 200 {
		t.Fatalf("admit: %d %v", res.StatusCode, m)
	}
	if _, m := h.do("POST", "/api/join/wait", `{"token":"`+customer["token"].(string)+`"}`, withOrigin(siteOrigin)); m["status"] != "admitted" || m["staff_name"] != "佐藤" {
		t.Fatalf("customer's poll: %v", m)
	}
	// The code is spent by the admission: nobody else can request with it.
	if m := join("198.51.100.30"); m["error"] != "invalid_code" {
		t.Fatalf("request after admission: %v", m)
	}
	rows, _ := h.db.ListAudit(context.Background(), store.AuditQuery{Limit: 50})
	declined := 0
	for _, r := range rows {
		if r.Kind == store.AuditJoinDeclined {
			declined++
		}
	}
	if declined != 3 { // the guesser, and the two the admission turned away
		t.Fatalf("%d declined requests audited, want 3", declined)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestCustomerTokenOnlyFromAllowedOrigins(t *testing.T) {
	h := newHarness(t, nil)
	s, _ := h.mgr.Create(h.staff.ID, "佐藤")
	_, tok, err := sessiontest.Join(h.mgr, s.Code, "pc")
	if err != nil {
		t.Fatal(err)
	}
	upgrade := func(origin, token string) int {
		req, _ := http.NewRequest("GET", h.url("/api/customer/ws?token="+token), nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := upgrade("http://evil.test", tok); got != http.StatusForbidden {
		t.Errorf("valid token from a foreign origin: %d, want 403", got)
	}
	if got := upgrade(siteOrigin, "forged-token"); got != http.StatusUnauthorized {
		t.Errorf("forged token: %d, want 401", got)
	}
	if got := upgrade(siteOrigin, tok); got != http.StatusSwitchingProtocols {
		t.Errorf("valid token from the site: %d, want 101", got)
	}
	// Hand-off and leave answer only the site origins too.
	if res, _ := h.do("POST", "/api/handoff", `{"token":"`+tok+`"}`, withOrigin("http://evil.test")); res.StatusCode != 403 {
		t.Errorf("hand-off from a foreign origin: %d", res.StatusCode)
	}
	if res, _ := h.do("POST", "/api/leave", `{"token":"`+tok+`"}`, withOrigin("http://evil.test")); res.StatusCode != 403 {
		t.Errorf("leave from a foreign origin: %d", res.StatusCode)
	}
	res, m := h.do("POST", "/api/handoff", `{"token":"`+tok+`"}`, withOrigin(siteOrigin))
	if res.StatusCode != 200 {
		t.Fatalf("hand-off: %d %v", res.StatusCode, m)
	}
	handoff := m["handoff"].(string)
	if res, m := h.do("POST", "/api/handoff/redeem", `{"handoff":"`+handoff+`"}`, withOrigin(siteOrigin)); res.StatusCode != 200 || m["token"] == "" {
		t.Fatalf("redeem: %d %v", res.StatusCode, m)
	}
	if res, m := h.do("POST", "/api/handoff/redeem", `{"handoff":"`+handoff+`"}`, withOrigin(siteOrigin)); res.StatusCode != 401 || m["error"] != "invalid_handoff" {
		t.Fatalf("replayed hand-off: %d %v", res.StatusCode, m)
	}
}

func TestPolicyServedToTheSite(t *testing.T) {
	h := newHarness(t, nil)
	res, m := h.do("GET", "/api/policy", "", withOrigin(siteOrigin))
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != siteOrigin {
		t.Fatalf("%d %v", res.StatusCode, res.Header)
	}
	for _, key := range []string{"mask_selectors", "block_selectors", "unmask_selectors", "excluded_pages", "softkeyboard_selectors"} {
		if _, ok := m[key].([]any); !ok {
			t.Errorf("%s is %#v, want a list", key, m[key])
		}
	}
	if origins, _ := m["site_origins"].([]any); len(origins) != 1 || origins[0] != siteOrigin || m["sdk_masking"] != true {
		t.Errorf("site_origins %v sdk_masking %v", m["site_origins"], m["sdk_masking"])
	}
	if res, _ := h.do("GET", "/api/policy", "", withOrigin("http://evil.test")); res.StatusCode != 403 {
		t.Errorf("foreign origin: %d", res.StatusCode)
	}
}

func TestAuditIsForAdministrators(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.login() // sato is not an administrator
	if res, _ := h.do("GET", "/api/audit", "", h.self(), withCookie(c)); res.StatusCode != 403 {
		t.Fatalf("non-admin read the audit: %d", res.StatusCode)
	}
	hash, _ := auth.HashPassword("boss-password-1", fastHash)
	if _, err := h.db.CreateStaff(context.Background(), store.Staff{Username: "boss", DisplayName: "Boss", PasswordHash: hash, Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	res, m := h.do("POST", "/api/login", `{"username":"boss","password":"boss-password-1"}`, h.self())
	if res.StatusCode != 200 || m["role"] != "admin" {
		t.Fatalf("admin login: %d %v", res.StatusCode, m)
	}
	var cookie *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == CookieName {
			cookie = ck
		}
	}
	get := func(query string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", h.url("/api/audit"+query), nil)
		req.AddCookie(cookie)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	// Some history: two sessions of sato's, one of them ended.
	a, _ := h.mgr.Create(h.staff.ID, "佐藤")
	h.mgr.End(a.ID, session.ReasonStaff)
	h.mgr.Create(h.staff.ID, "佐藤")
	type page struct {
		Rows       []map[string]any `json:"rows"`
		NextBefore int64            `json:"next_before"`
	}
	read := func(query string) page {
		t.Helper()
		res, b := get(query)
		var p page
		if err := json.Unmarshal(b, &p); err != nil || res.StatusCode != 200 {
			t.Fatalf("audit%s: %d %s", query, res.StatusCode, b)
		}
		for _, r := range p.Rows {
			if _, ok := r["client_hash"]; ok {
				t.Fatal("audit API exposes client hashes")
			}
		}
		return p
	}
	all := read("")
	if len(all.Rows) < 5 || all.NextBefore != 0 {
		t.Fatalf("admin audit: %+v", all)
	}
	// Paging: two at a time reaches every row once, newest first.
	var ids []float64
	for before := int64(0); ; {
		p := read(fmt.Sprintf("?limit=2&before=%d", before))
		for _, r := range p.Rows {
			ids = append(ids, r["id"].(float64))
		}
		if p.NextBefore == 0 {
			break
		}
		before = p.NextBefore
	}
	if len(ids) != len(all.Rows) || !slices.IsSortedFunc(ids, func(x, y float64) int { return int(y - x) }) {
		t.Fatalf("paged ids %v, want the %d rows newest first", ids, len(all.Rows))
	}
	// Filters: by staff, kind and end reason, by date.
	if p := read(fmt.Sprintf("?staff=%d&kind=session_created", h.staff.ID)); len(p.Rows) != 2 || p.Rows[0]["staff"] != "sato" {
		t.Fatalf("sato's created sessions: %+v", p.Rows)
	}
	if p := read("?kind=session_ended&reason=staff"); len(p.Rows) != 1 || p.Rows[0]["session_id"] != a.ID {
		t.Fatalf("sessions ended by staff: %+v", p.Rows)
	}
	if p := read("?to=2000-01-01"); len(p.Rows) != 0 {
		t.Fatalf("rows before 2000: %+v", p.Rows)
	}
	for _, bad := range []string{"?before=x", "?from=yesterday", "?staff=-1"} {
		if res, _ := get(bad); res.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, res.StatusCode)
		}
	}
	// CSV export of the same rows, with a header, safe for spreadsheets.
	res, b := get("?format=csv&kind=session_ended")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", res.StatusCode, res.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\uFEFF"))).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][2] != "kind" || recs[1][2] != "session_ended" || recs[1][7] != "staff" {
		t.Fatalf("csv %q %v", recs, err)
	}
}

func TestCSVCellsAreNotFormulas(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+x": "'+x", "@a": "'@a", "-2": "'-2", "佐藤": "佐藤", "": ""} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

// A session's page files are for that session's staff, while it lasts.
func TestPageFilesBelongToTheirSession(t *testing.T) {
	h := newHarness(t, nil)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("customer-page-image"))
	}))
	defer site.Close()
	if err := h.files.AllowOrigin(site.URL, true); err != nil {
		t.Fatal(err)
	}
	s, err := h.mgr.Create(h.staff.ID, "佐藤")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sessiontest.Join(h.mgr, s.Code, "pc"); err != nil {
		t.Fatal(err)
	}
	rw, err := h.files.Rewriter(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var d rrweb.Doc
	if !d.Reset(json.RawMessage(`{"type":3,"timestamp":1,"data":{"source":0,"texts":[],"attributes":[],"removes":[],"adds":[{"parentId":1,"nextId":null,"node":{"type":2,"id":9,"tagName":"img","attributes":{"src":"` + site.URL + `/photo.png"},"childNodes":[]}}]}}`)) {
		t.Fatal("not an event")
	}
	if err := rw.Event(&d); err != nil {
		t.Fatal(err)
	}
	rewritten, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Data struct {
			Adds []struct {
				Node struct {
					Attributes map[string]string `json:"attributes"`
				} `json:"node"`
			} `json:"adds"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rewritten, &ev); err != nil {
		t.Fatal(err)
	}
	path := ev.Data.Adds[0].Node.Attributes["src"]
	if !strings.HasPrefix(path, "/api/sessions/"+s.ID+"/assets/") {
		t.Fatalf("img src %q is not an asset path of the session", path)
	}
	get := func(opts ...reqOpt) (int, string) {
		req, _ := http.NewRequest("GET", h.url(path), nil)
		for _, o := range opts {
			o(req)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(); code != http.StatusUnauthorized {
		t.Errorf("without a login: %d", code)
	}
	c, _ := h.login()
	if code, body := get(withCookie(c)); code != 200 || body != "customer-page-image" {
		t.Fatalf("the session's own staff: %d %q", code, body)
	}
	// Another staff member gets not-found, as for any unknown session.
	hash, _ := auth.HashPassword("other-password", fastHash)
	if _, err := h.db.CreateStaff(context.Background(), store.Staff{Username: "suzuki", DisplayName: "鈴木", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	res, m := h.do("POST", "/api/login", `{"username":"suzuki","password":"other-password"}`, h.self())
	if res.StatusCode != 200 {
		t.Fatalf("second login: %d %v", res.StatusCode, m)
	}
	var other *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == CookieName {
			other = ck
		}
	}
	if code, body := get(withCookie(other)); code != http.StatusNotFound || strings.Contains(body, "customer-page-image") {
		t.Errorf("another staff member: %d %q", code, body)
	}
	if _, err := h.mgr.End(s.ID, session.ReasonStaff); err != nil {
		t.Fatal(err)
	}
	if code, body := get(withCookie(c)); code != http.StatusNotFound || strings.Contains(body, "customer-page-image") {
		t.Errorf("after the session ended: %d %q", code, body)
	}
	if n := h.files.Sessions(); n != 0 {
		t.Errorf("%d sessions still hold page files after the end", n)
	}
}

// Logging out closes the consoles of that login at once: nothing more of
// the session reaches the browser that logged out.
func TestLogoutClosesTheStaffSockets(t *testing.T) {
	h := newHarness(t, nil)
	c, csrf := h.login()
	s, err := h.mgr.Create(h.staff.ID, "佐藤")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sessiontest.Join(h.mgr, s.Code, "pc"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := h.console(ctx, t, c, s.ID)
	if res, _ := h.do("POST", "/api/logout", "", h.self(), withCookie(c), withHeader(csrfHeader, csrf)); res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != protocol.CloseUnauthorized {
				t.Fatalf("socket ended with %v (%d), want close %d", err, code, protocol.CloseUnauthorized)
			}
			return
		}
		if strings.Contains(string(msg), `"t":"events"`) {
			t.Fatalf("events after logout: %s", msg)
		}
	}
}

// console opens a staff socket on a session as the login of cookie c, and
// reads the session's state, which every console gets first.
func (h *harness) console(ctx context.Context, t *testing.T, c *http.Cookie, sessionID string) *websocket.Conn {
	t.Helper()
	hdr := http.Header{}
	hdr.Set("Origin", h.srv.URL)
	hdr.Set("Cookie", c.Name+"="+c.Value)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.url("/api/sessions/"+sessionID+"/ws"), "http"), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatal(err)
	}
	return ws
}

// closedAs reads ws until the server closes it, and fails unless it closed with code.
func closedAs(ctx context.Context, t *testing.T, ws *websocket.Conn, code int) {
	t.Helper()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusCode(code) {
				t.Fatalf("console ended with %v (%d), want close %d", err, got, code)
			}
			return
		}
	}
}

func TestClientKey(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, remote, xff, want string
	}{
		{"direct IPv4", "203.0.113.9:4000", "", "203.0.113.9"},
		{"direct client cannot pick its address", "203.0.113.9:4000", "198.51.100.1", "203.0.113.9"},
		{"behind a trusted proxy", "10.1.2.3:4000", "198.51.100.7", "198.51.100.7"},
		{"through two trusted proxies", "10.1.2.3:4000", "198.51.100.7, 10.9.9.9", "198.51.100.7"},
		{"a forged hop before the real client", "10.1.2.3:4000", "1.2.3.4, 198.51.100.7", "198.51.100.7"},
		{"a trusted proxy without the header", "10.1.2.3:4000", "", "10.1.2.3"},
		{"unreadable hop stops at the proxy", "10.1.2.3:4000", "garbage", "10.1.2.3"},
		{"IPv6 keyed by its /64", "[2001:db8:1:2:aaaa::1]:4000", "", "2001:db8:1:2::/64"},
		{"IPv6 behind a trusted IPv6 proxy", "[fd00::5]:4000", "2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.9]:4000", "", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := clientKey(r, trusted); got != tc.want {
				t.Fatalf("client %q, want %q", got, tc.want)
			}
		})
	}
}

// Behind a trusted proxy each client has its own join budget: one guesser
// does not use up everyone's.
func TestJoinLimitsPerClientBehindAProxy(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.0/8", "::1/128"} })
	join := func(client string) string {
		_, m := h.do("POST", "/api/join", `{"code":"000001"}`, withOrigin(siteOrigin), withHeader("X-Forwarded-For", client))
		return m["error"].(string)
	}
	for range 3 { // the harness's join burst
		if got := join("198.51.100.7"); got != "invalid_code" {
			t.Fatalf("guesser: %s", got)
		}
	}
	if got := join("198.51.100.7"); got != "rate_limited" {
		t.Fatalf("guesser past the burst: %s", got)
	}
	if got := join("203.0.113.50"); got != "invalid_code" {
		t.Fatalf("another customer behind the same proxy got %q: limits must be per client", got)
	}
}

// The console and the customer scripts go out gzipped to browsers that take
// it, and come back as 304 when unchanged.
func TestWebFilesAreCompressed(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{"/console/assets/console.js", "/sdk.js", "/sdk-capture.js"} {
		get := func(enc, etag string) *http.Response {
			req, _ := http.NewRequest("GET", h.url(path), nil)
			req.Header.Set("Accept-Encoding", enc) // set by hand: the client then leaves the body as it came
			if etag != "" {
				req.Header.Set("If-None-Match", etag)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		plainRes := get("identity", "")
		plain, _ := io.ReadAll(plainRes.Body)
		plainRes.Body.Close()
		gzRes := get("gzip, deflate, br", "")
		gz, _ := io.ReadAll(gzRes.Body)
		gzRes.Body.Close()
		if gzRes.Header.Get("Content-Encoding") != "gzip" || plainRes.Header.Get("Content-Encoding") != "" {
			t.Fatalf("%s: encodings %q and %q", path, gzRes.Header.Get("Content-Encoding"), plainRes.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, _ := io.ReadAll(zr)
		if !bytes.Equal(unzipped, plain) || len(plain) < 1000 {
			t.Fatalf("%s: the gzipped body is not the file (%d vs %d bytes)", path, len(unzipped), len(plain))
		}
		if len(gz)*2 > len(plain) {
			t.Errorf("%s: %d bytes gzipped of %d: less than half saved", path, len(gz), len(plain))
		}
		if !strings.Contains(gzRes.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: no Vary: Accept-Encoding", path)
		}
		if res := get("gzip", gzRes.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", path, res.StatusCode)
		}
		t.Logf("%s: %d bytes, %d gzipped", path, len(plain), len(gz))
	}
}

// Administrators manage accounts in the console's API: disabling an
// account or resetting its password ends its logins and closes its
// consoles at once; staff who are not administrators cannot.
func TestAccountsAdministration(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.LoginBurst = 20 })
	sato, satoCSRF := h.login()
	if res, _ := h.do("GET", "/api/staff", "", withCookie(sato)); res.StatusCode != 403 {
		t.Fatalf("a non-admin listed accounts: %d", res.StatusCode)
	}
	hash, _ := auth.HashPassword("boss-password-1", fastHash)
	h.db.CreateStaff(context.Background(), store.Staff{Username: "boss", DisplayName: "上司", PasswordHash: hash, Role: store.RoleAdmin})
	res, m := h.do("POST", "/api/login", `{"username":"boss","password":"boss-password-1"}`, h.self())
	if res.StatusCode != 200 {
		t.Fatalf("admin login: %d %v", res.StatusCode, m)
	}
	var boss *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			boss = c
		}
	}
	bossCSRF := m["csrf"].(string)
	admin := func(path, body string) (*http.Response, map[string]any) {
		return h.do("POST", path, body, h.self(), withCookie(boss), withHeader(csrfHeader, bossCSRF))
	}
	// Sato has a console open on a session.
	s, _ := h.mgr.Create(h.staff.ID, "佐藤")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := h.console(ctx, t, sato, s.ID)
	id := fmt.Sprint(h.staff.ID)
	if res, m := admin("/api/staff/"+id, `{"display_name":"佐藤 花子","disabled":true}`); res.StatusCode != 200 || m["disabled"] != true || m["display_name"] != "佐藤 花子" {
		t.Fatalf("disable: %d %v", res.StatusCode, m)
	}
	closedAs(ctx, t, ws, protocol.CloseUnauthorized)
	if res, _ := h.do("POST", "/api/sessions", "", h.self(), withCookie(sato), withHeader(csrfHeader, satoCSRF)); res.StatusCode != 401 {
		t.Fatalf("a disabled account's login still works: %d", res.StatusCode)
	}
	if res, _ := h.do("POST", "/api/login", `{"username":"sato","password":"right-password"}`, h.self()); res.StatusCode != 401 {
		t.Fatalf("a disabled account logged in: %d", res.StatusCode)
	}
	// The last administrator cannot disable themselves.
	list := func() []map[string]any {
		req, _ := http.NewRequest("GET", h.url("/api/staff"), nil)
		req.AddCookie(boss)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out []map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return out
	}
	var bossID string
	for _, a := range list() {
		if a["username"] == "boss" {
			bossID = fmt.Sprint(a["id"])
		}
		if _, ok := a["password_hash"]; ok {
			t.Fatal("the account list shows password hashes")
		}
	}
	if res, m := admin("/api/staff/"+bossID, `{"disabled":true}`); res.StatusCode != 409 || m["error"] != "last_admin" {
		t.Fatalf("disabling the last admin: %d %v", res.StatusCode, m)
	}
	// Enabled again with a new, generated password: only that one works.
	admin("/api/staff/"+id, `{"disabled":false}`)
	res, m = admin("/api/staff/"+id+"/password", `{}`)
	pw, _ := m["password"].(string)
	if res.StatusCode != 200 || len(pw) < 16 {
		t.Fatalf("password reset: %d %v", res.StatusCode, m)
	}
	if res, _ := h.do("POST", "/api/login", `{"username":"sato","password":"right-password"}`, h.self()); res.StatusCode != 401 {
		t.Fatalf("the old password still works: %d", res.StatusCode)
	}
	if res, _ := h.do("POST", "/api/login", `{"username":"sato","password":"`+pw+`"}`, h.self()); res.StatusCode != 200 {
		t.Fatalf("the new password does not work: %d", res.StatusCode)
	}
	// New accounts: a clear error for a bad name, a password shown once.
	if res, m := admin("/api/staff", `{"username":"new user","display_name":"x"}`); res.StatusCode != 400 || m["error"] != "bad_username" {
		t.Fatalf("bad username: %d %v", res.StatusCode, m)
	}
	if res, m := admin("/api/staff", `{"username":"abe","display_name":"阿部"}`); res.StatusCode != 201 || len(m["password"].(string)) < 16 {
		t.Fatalf("create: %d %v", res.StatusCode, m)
	}
	h.aud.Flush(context.Background())
	rows, _ := h.db.ListAudit(context.Background(), store.AuditQuery{Kind: store.AuditAccountChanged})
	if len(rows) != 5 || rows[0].Reason != "created" || rows[0].Username != "boss" {
		t.Fatalf("account changes audited: %+v", rows)
	}
}

// A login revoked outside this process (tomoni user disable, another node)
// loses its consoles at the next check.
func TestRevokedElsewhereClosesTheConsole(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.login()
	s, _ := h.mgr.Create(h.staff.ID, "佐藤")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := h.console(ctx, t, c, s.ID)
	h.server.CloseRevokedLogins(ctx) // nothing revoked: the console stays
	quiet, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err := ws.Read(quiet)
	stop()
	if code := websocket.CloseStatus(err); code != -1 {
		t.Fatalf("a valid login's console was closed (%d)", code)
	}
	ws = h.console(ctx, t, c, s.ID)
	if _, err := h.db.DeleteLoginsOf(ctx, h.staff.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.server.CloseRevokedLogins(ctx)
	closedAs(ctx, t, ws, protocol.CloseUnauthorized)
}

// The console's page points at its assets by content-hashed names, which
// browsers may keep for good; the plain names still answer, revalidated.
func TestConsoleAssetsHaveHashedNames(t *testing.T) {
	h := newHarness(t, nil)
	res, err := http.Get(h.url("/console/"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`assets/(console\.[0-9a-f]{16}\.js)`).FindSubmatch(page)
	if m == nil || !regexp.MustCompile(`assets/console\.[0-9a-f]{16}\.css`).Match(page) {
		t.Fatalf("console page does not name hashed assets:\n%s", page)
	}
	hashed, err := http.Get(h.url("/console/assets/" + string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hashed.Body)
	hashed.Body.Close()
	if hashed.StatusCode != 200 || hashed.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || len(body) < 1000 {
		t.Fatalf("hashed asset: %d %q %d bytes", hashed.StatusCode, hashed.Header.Get("Cache-Control"), len(body))
	}
	plain, err := http.Get(h.url("/console/assets/console.js"))
	if err != nil {
		t.Fatal(err)
	}
	plainBody, _ := io.ReadAll(plain.Body)
	plain.Body.Close()
	if plain.Header.Get("Cache-Control") != "no-cache" || !bytes.Equal(plainBody, body) {
		t.Fatalf("plain name: %q, same body %v", plain.Header.Get("Cache-Control"), bytes.Equal(plainBody, body))
	}
	if res, _ := h.do("GET", "/console/assets/console.0000000000000000.js", ""); res.StatusCode != 404 {
		t.Fatalf("a hash that is not the asset's: %d", res.StatusCode)
	}
}

// Sockets that open all at once take turns: within the burst at once,
// then at the node's pace, and one that would wait too long is told busy.
func TestSocketsOpeningAtOnceTakeTurns(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Bounds.SocketOpenRate, c.Bounds.SocketOpenBurst, c.Bounds.SocketOpenWait = 5, 2, 300*time.Millisecond
	})
	pace := func() (int, time.Duration) {
		rec := httptest.NewRecorder()
		start := time.Now()
		req := httptest.NewRequest("GET", "/api/customer/ws", nil)
		if !h.server.paceSocket(rec, req) {
			return rec.Code, time.Since(start)
		}
		return http.StatusOK, time.Since(start)
	}
	for i := range 2 {
		if code, took := pace(); code != http.StatusOK || took > 50*time.Millisecond {
			t.Fatalf("socket %d of the burst: %d after %s", i, code, took)
		}
	}
	if code, took := pace(); code != http.StatusOK || took < 150*time.Millisecond {
		t.Fatalf("the third socket: %d after %s; want its turn, a fifth of a second later", code, took)
	}
	// Four more at once would wait up to 0.8 s: past 0.3 s they are busy.
	codes := make(chan int, 4)
	for range 4 {
		go func() { code, _ := pace(); codes <- code }()
	}
	got := map[int]int{}
	for range 4 {
		got[<-codes]++
	}
	if got[http.StatusOK] != 1 || got[http.StatusServiceUnavailable] != 3 {
		t.Fatalf("four at once: %v; want one in its turn and three busy", got)
	}
	if got := testutil.ToFloat64(h.metrics.socketWaits); got < 1 {
		t.Fatalf("socket waits counted %v", got)
	}
}
