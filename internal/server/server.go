// Package server is Tomoni's HTTP surface: the staff console and its JSON
// API, the customer SDK and join API, both WebSockets, /healthz and
// /metrics. It checks who may call what (logins, CSRF, origins, rate limits)
// and hands sockets to the relay.
package server

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tomoni-cobrowse/tomoni/internal/accounts"
	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/assets"
	"github.com/tomoni-cobrowse/tomoni/internal/audit"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
	"github.com/tomoni-cobrowse/tomoni/internal/relay"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// Options wires the server's collaborators.
type Options struct {
	Config     config.Config
	Store      store.Store
	Audit      *audit.Log
	Sessions   *session.Manager
	Relay      *relay.Relay
	PageFiles  *assets.Service // page files for the replay
	Web        fs.FS           // built SDK and console
	Policy     *policy.Policy
	Registry   *prometheus.Registry
	Log        *slog.Logger
	Now        func() time.Time
	HashParams auth.Params
	// Limits, when set, holds the login and join limits for every node of
	// a cluster; nil keeps them in this node.
	Limits ratelimit.Store
	// Health reports why this node cannot serve now (nil: it can).
	Health func() error
}

// Server serves the HTTP API.
type Server struct {
	opt        Options
	log        *slog.Logger
	now        func() time.Time
	loginIP    ratelimit.Limiter
	loginUser  ratelimit.Limiter
	joinIP     ratelimit.Limiter
	wrongCodes *ratelimit.Bucket // deployment-wide wrong codes, for the alert only
	sockets    *ratelimit.Bucket // this node's pace of setting up sockets
	alertMu    sync.Mutex
	lastAlert  time.Time
	dummyHash  string
	verifier   *auth.Verifier
	accountSvc *accounts.Service // one per server: it serialises account changes
	trusted    []netip.Prefix    // reverse proxies whose X-Forwarded-For is believed
	web        map[string]webFile
	// The console's page, pointing at its assets' content-hashed names.
	consoleIndex []byte
	hashedAssets map[string]string // hashed name → built file
	metrics      *metrics

	// consoleOrigins are the console's own origins: the public URL's, and
	// for a loopback URL its other spelling (localhost, 127.0.0.1, [::1]).
	consoleOrigins map[string]bool
	secure         bool // the public URL is https: Secure __Host- cookie, HSTS

	originsMu sync.RWMutex
	origins   map[string]bool // allowed site origins
}

// New returns a server.
func New(opt Options) (*Server, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	cfg := opt.Config
	s := &Server{
		opt:        opt,
		log:        opt.Log,
		now:        opt.Now,
		loginIP:    limiter(opt, "login-ip.", cfg.LoginPerMinute/60, cfg.LoginBurst),
		loginUser:  limiter(opt, "login-user.", cfg.LoginPerMinute/60, cfg.LoginBurst),
		joinIP:     limiter(opt, "join-ip.", cfg.JoinPerMinute/60, cfg.JoinBurst),
		wrongCodes: ratelimit.NewBucket(cfg.JoinAlertPerMinute/60, max(1, int(cfg.JoinAlertPerMinute)), opt.Now),
		sockets:    ratelimit.NewBucket(cfg.Bounds.SocketOpenRate, cfg.Bounds.SocketOpenBurst, opt.Now),
		origins:    make(map[string]bool),
		metrics:    newMetrics(opt.Registry, opt.Sessions),
		verifier:   auth.NewVerifier(cfg.Bounds.LoginHashes, cfg.Bounds.LoginHashWait),
		accountSvc: &accounts.Service{Store: opt.Store, Hash: opt.HashParams},
	}
	if err := s.setPublicURL(cfg.PublicURL); err != nil {
		return nil, err
	}
	web, err := loadWeb(opt.Web)
	if err != nil {
		return nil, fmt.Errorf("web files: %w", err)
	}
	s.web = web
	index, ok := web["console/index.html"]
	if !ok {
		return nil, fmt.Errorf("web files: console/index.html is missing")
	}
	s.hashedAssets, s.consoleIndex = hashConsoleAssets(web, index.plain)
	for _, p := range cfg.TrustedProxies {
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		s.trusted = append(s.trusted, pr.Masked())
	}
	// Logins for unknown users still pay for one hash, so timing does not
	// reveal which usernames exist.
	h, err := auth.HashPassword("tomoni-dummy", opt.HashParams)
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	if opt.Policy == nil {
		p := policy.Default()
		s.opt.Policy = &p
	}
	for _, o := range append(append([]string{}, cfg.SiteOrigins...), s.opt.Policy.SiteOrigins...) {
		if err := s.AllowOrigin(o); err != nil {
			return nil, err
		}
	}
	// Counted here rather than in the audit: metrics are the server's.
	opt.Sessions.Subscribe(func(c session.Change) {
		if c.Session.State == session.Ended && c.Prev != session.Ended {
			s.metrics.ended.WithLabelValues(c.Session.Reason).Inc()
		}
	})
	return s, nil
}

func (s *Server) setPublicURL(pub string) error {
	u, err := url.Parse(pub)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("public URL %q: the server needs the URL browsers reach it at (scheme, host and port)", pub)
	}
	s.secure = u.Scheme == "https"
	s.consoleOrigins = make(map[string]bool)
	own, err := config.NormalizeOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return err
	}
	s.consoleOrigins[own] = true
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if ip, err := netip.ParseAddr(host); host == "localhost" || (err == nil && ip.IsLoopback()) {
		for _, h := range []string{"localhost", "127.0.0.1", "[::1]"} {
			if n, err := config.NormalizeOrigin(u.Scheme + "://" + h + ":" + port); err == nil {
				s.consoleOrigins[n] = true
			}
		}
	}
	return nil
}

// AllowOrigin adds a site origin that may embed the SDK (the demo adds its
// own once its port is known).
func (s *Server) AllowOrigin(o string) error {
	n, err := config.NormalizeOrigin(o)
	if err != nil {
		return err
	}
	s.originsMu.Lock()
	s.origins[n] = true
	s.originsMu.Unlock()
	return nil
}

func (s *Server) siteOriginAllowed(o string) bool {
	n, err := config.NormalizeOrigin(o)
	if err != nil {
		return false
	}
	s.originsMu.RLock()
	defer s.originsMu.RUnlock()
	return s.origins[n]
}

func (s *Server) siteOrigins() []string {
	s.originsMu.RLock()
	defer s.originsMu.RUnlock()
	out := make([]string, 0, len(s.origins))
	for o := range s.origins {
		out = append(out, o)
	}
	return out
}

// limiter is a node's own limit, or with opt.Limits one every node
// shares: per-node copies would multiply an attacker's budget by the
// number of nodes.
func limiter(opt Options, prefix string, rate float64, burst int) ratelimit.Limiter {
	if opt.Limits != nil {
		return ratelimit.NewShared(opt.Limits, prefix, rate, burst, opt.Config.Bounds.RateLimitKeys, opt.Now)
	}
	return ratelimit.NewKeyed(rate, burst, opt.Config.Bounds.RateLimitKeys, opt.Now)
}

// Handler returns the route table.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()

	// Staff console and its API (same origin, cookie + CSRF).
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusFound)
	})
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /console/{$}", s.handleConsole)
	mux.Handle("GET /console/assets/", s.consoleAssets())
	mux.HandleFunc("POST /api/login", s.handleLogin)
	mux.Handle("POST /api/logout", s.staffOnly(s.handleLogout))
	mux.Handle("GET /api/me", s.staffOnly(s.handleMe))
	mux.Handle("GET /api/sessions", s.staffOnly(s.handleListSessions))
	mux.Handle("POST /api/sessions", s.staffOnly(s.handleCreateSession))
	mux.Handle("POST /api/sessions/{id}/end", s.staffOnly(s.handleEndSession))
	mux.Handle("POST /api/sessions/{id}/requests/{rid}/admit", s.staffOnly(s.handleAdmit))
	mux.Handle("POST /api/sessions/{id}/requests/{rid}/decline", s.staffOnly(s.handleDecline))
	mux.Handle("GET /api/sessions/{id}/ws", s.staffOnly(s.handleStaffSocket))
	mux.Handle("POST /api/sessions/{id}/handover", s.staffOnly(s.handleHandover))
	mux.Handle("POST /api/sessions/{id}/handover/cancel", s.staffOnly(s.handleCancelHandover))
	mux.Handle("POST /api/sessions/{id}/takeover", s.staffOnly(s.handleTakeover))
	mux.Handle("GET /api/colleagues", s.staffOnly(s.handleColleagues))
	mux.Handle("GET /api/sessions/{id}/assets/{key}", s.staffOnly(s.handleAsset))
	mux.Handle("GET /api/audit", s.staffOnly(s.handleAudit))
	mux.Handle("GET /api/staff", s.adminOnly(s.handleListAccounts))
	mux.Handle("POST /api/staff", s.adminOnly(s.handleCreateAccount))
	mux.Handle("POST /api/staff/{id}", s.adminOnly(s.handleUpdateAccount))
	mux.Handle("POST /api/staff/{id}/password", s.adminOnly(s.handleSetPassword))

	// Customer side (site origins, CORS, customer token).
	mux.HandleFunc("GET /sdk.js", s.sdkFile("sdk.js"))
	mux.HandleFunc("GET /sdk-capture.js", s.sdkFile("sdk-capture.js"))
	mux.HandleFunc("GET /sdk.d.ts", s.sdkFile("sdk.d.ts"))
	mux.HandleFunc("GET /api/policy", s.handlePolicy)
	for _, route := range []struct {
		path string
		h    http.HandlerFunc
	}{{"/api/join", s.handleJoin}, {"/api/join/wait", s.handleJoinWait}, {"/api/leave", s.handleLeave}, {"/api/handoff", s.handleHandoff}, {"/api/handoff/redeem", s.handleRedeem}} {
		mux.Handle("OPTIONS "+route.path, s.fromSite(s.handlePreflight))
		mux.Handle("POST "+route.path, s.fromSite(route.h))
	}
	mux.HandleFunc("GET /api/customer/ws", s.handleCustomerSocket)

	// Operations.
	mux.HandleFunc("GET /healthz", s.handleHealth)
	return s.withBaseHeaders(mux)
}

// paceSocket holds a socket's setup until its turn when many open at once
// (a node restart sends every page back in the same second). It reports
// false, having answered, when the wait would be too long or the client
// left.
func (s *Server) paceSocket(w http.ResponseWriter, r *http.Request) bool {
	wait, ok := s.sockets.Debit(1, s.opt.Config.Bounds.SocketOpenWait)
	if !ok {
		s.writeError(w, r, apperr.ErrBusy)
		return false
	}
	if wait <= 0 {
		return true
	}
	s.metrics.socketWaits.Inc()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// handleHealth answers a load balancer's health check: 503 when this node
// cannot do its work (a cluster node cut off from NATS), so that new
// clients go to a node that can.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.opt.Health != nil {
		if err := s.opt.Health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unavailable: %v\n", err)
			return
		}
	}
	w.Write([]byte("ok\n"))
}

// MetricsHandler serves Prometheus metrics. It is not on the public
// listener: waiting codes and failure counts are for operators only (see
// --metrics-addr).
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opt.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.handleHealth)
	return mux
}

// withBaseHeaders sets headers every response should carry.
func (s *Server) withBaseHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		if s.secure {
			// Not includeSubDomains: the bank's other hosts are not ours to pin.
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		next.ServeHTTP(w, r)
	})
}

// Sweep forgets idle rate-limit entries; call it periodically.
func (s *Server) Sweep() {
	s.loginIP.Sweep()
	s.loginUser.Sweep()
	s.joinIP.Sweep()
}
