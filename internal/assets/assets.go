// Package assets makes every file a replayed page needs come from Tomoni,
// so that the staff browser talks to Tomoni only. The relay passes each
// customer event through a Rewriter, which resolves every reference a
// replayed document would fetch (src, srcset, poster, background, the href
// of stylesheets and icons, url() and @import in styles) against the
// customer's page and replaces it with a session-scoped asset path; the
// server answers those paths from Serve, which fetches the file from an
// allowed asset origin (guarded, cached in memory only) and rewrites the
// references inside stylesheets the same way. What cannot be fetched is
// served as a neutral placeholder. Nothing is written to disk, and a
// session's paths die with it.
package assets

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// Config bounds the service; every field must be set.
type Config struct {
	Fetch             FetchConfig
	MaxURLsPerSession int           // distinct files one session may name
	CustomerWait      time.Duration // how long to wait for a file from the customer's browser
	CustomerBytes     int64         // files from the customer's browser kept per session
	// Policy says which files are never asked of the customer's browser
	// (no_customer_files: files that are themselves the customer's data).
	Policy *policy.Policy
	// Secret seals asset keys; every node of a deployment needs the same
	// one. Empty draws one for this process (a single node).
	Secret []byte
	// Broker carries files from the customer's browser to the node that
	// asked for them; nil is a broker of this node alone.
	Broker broker.Broker
}

// FromConfig takes the asset service's part of the deployment's configuration.
func FromConfig(cfg config.Config, pol *policy.Policy) Config {
	b := cfg.Bounds
	return Config{
		Fetch:             FetchConfig{MaxBytes: b.AssetMaxBytes, Timeout: b.AssetTimeout, CacheBytes: b.AssetCacheBytes, CacheTTL: b.AssetCacheTTL},
		MaxURLsPerSession: b.AssetURLsPerSession,
		CustomerWait:      b.AssetCustomerWait,
		CustomerBytes:     b.AssetCustomerBytes,
		Policy:            pol,
	}
}

// Validate reports the first bound that is not set.
func (c Config) Validate() error {
	if c.Fetch.MaxBytes <= 0 || c.Fetch.Timeout <= 0 || c.Fetch.CacheBytes <= 0 || c.Fetch.CacheTTL <= 0 || c.MaxURLsPerSession <= 0 ||
		c.CustomerWait <= 0 || c.CustomerBytes <= 0 {
		return errors.New("assets: every bound must be positive")
	}
	return nil
}

// Service holds the asset paths of every live session on this node.
type Service struct {
	cfg   Config
	fetch *fetcher
	log   *slog.Logger

	seal  *sealer
	files broker.Broker

	mu       sync.Mutex
	sessions map[string]*registry
	ask      Asker
}

// New returns a service that fetches from no origin until AllowOrigin.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seal, err := newSealer(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("asset keys: %w", err)
	}
	files := cfg.Broker
	if files == nil {
		files = broker.NewMemory()
	}
	return &Service{cfg: cfg, fetch: newFetcher(cfg.Fetch), log: log, seal: seal, files: files, sessions: make(map[string]*registry)}, nil
}

// AllowOrigin lets page files be fetched from origin. allowPrivate lets it
// resolve to loopback or private addresses: only for a site on this
// machine or network that the operator runs (the demo bank).
func (s *Service) AllowOrigin(origin string, allowPrivate bool) error {
	return s.fetch.allow(origin, allowPrivate)
}

// Rewriter returns a rewriter for one customer connection of a session.
func (s *Service) Rewriter(sessionID string) (*Rewriter, error) {
	return &Rewriter{reg: s.registry(sessionID), kinds: make(map[int64]nodeKind)}, nil
}

// Follow forgets a session's asset paths and files when it ends, on
// whichever node it ended, until cancel.
func (s *Service) Follow(m *session.Manager) (cancel func()) {
	return m.Observe(func(sess session.Session) {
		if sess.State == session.Ended {
			s.forget(sess.ID)
		}
	})
}

func (s *Service) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
}

// registry returns the session's registry on this node, made on first
// use: by the customer's rewriter, or by a staff request on a node the
// customer is not connected to.
func (s *Service) registry(id string) *registry {
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.sessions[id]
	if reg == nil {
		reg = newRegistry(id, s.seal, s.cfg.MaxURLsPerSession)
		s.sessions[id] = reg
	}
	return reg
}

// Sessions reports how many sessions hold asset paths (for leak tests and metrics).
func (s *Service) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Serve answers one asset path of a live session. The caller has checked
// that the staff member may see the session.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, sessionID, key string) {
	h := w.Header()
	// The file is the customer's page's, not Tomoni's: it may not run
	// anything, even when opened on its own (an SVG with script).
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	reg := s.registry(sessionID)
	raw, ok := reg.lookup(key)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := s.fetch.get(r.Context(), raw)
	if err != nil && s.mayAskCustomer(raw) {
		// Only the customer's browser may be able to read it.
		f, err = s.askCustomer(r.Context(), sessionID, reg, raw)
	}
	if err != nil {
		// The URL may carry the customer's data: log the kind of failure only.
		s.log.Debug("page file not served", "session", sessionID, "err", errors.Unwrap(err))
		s.placeholder(w, r)
		return
	}
	body := f.body
	if isCSS(f.ctype) {
		base, err := url.Parse(f.url)
		if err == nil {
			body = []byte(rewriteCSS(string(f.body), base, reg.path))
		}
	}
	h.Set("Content-Type", f.ctype)
	w.Write(body)
}

// mayAskCustomer reports whether the policy lets the file be read from the
// customer's browser.
func (s *Service) mayAskCustomer(raw string) bool {
	return s.cfg.Policy == nil || s.cfg.Policy.CustomerFileAllowed(raw)
}

// placeholder answers for a file that could not be fetched: a transparent
// image or an empty stylesheet where the page expects one, so nothing shows
// as broken; a 404 for anything else.
func (s *Service) placeholder(w http.ResponseWriter, r *http.Request) {
	switch r.Header.Get("Sec-Fetch-Dest") {
	case "image":
		w.Header().Set("Content-Type", "image/gif")
		w.Write(transparentGIF)
	case "style":
		w.Header().Set("Content-Type", "text/css")
		w.Write(nil)
	default:
		http.NotFound(w, r)
	}
}
