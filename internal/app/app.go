// Package app wires Tomoni's parts into one running program: store,
// sessions, broker, relay, HTTP servers and the demo bank. cmd/tomoni parses
// flags and calls it; tests build a Config in code and call it directly.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tomoni-cobrowse/tomoni/internal/accounts"
	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/assets"
	"github.com/tomoni-cobrowse/tomoni/internal/audit"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/broker/natsbroker"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/demo"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
	"github.com/tomoni-cobrowse/tomoni/internal/relay"
	"github.com/tomoni-cobrowse/tomoni/internal/server"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/natskv"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
	"github.com/tomoni-cobrowse/tomoni/internal/store/postgres"
	"github.com/tomoni-cobrowse/tomoni/internal/store/sqlite"
	"github.com/tomoni-cobrowse/tomoni/web"
)

// App is a running Tomoni node.
type App struct {
	Config     config.Config
	Log        *slog.Logger
	Out        io.Writer   // where first-start credentials are printed
	HashParams auth.Params // argon2id cost; tests lower it

	Store    store.Store
	Audit    *audit.Log
	Sessions *session.Manager
	Relay    *relay.Relay
	Assets   *assets.Service
	Broker   broker.Broker
	Registry *prometheus.Registry
	Policy   *policy.Policy

	server     *server.Server
	http       *http.Server
	demo       *http.Server
	demoIB     *http.Server
	ln         net.Listener
	demoLn     net.Listener
	demoIBLn   net.Listener
	metrics    *http.Server
	metricsLn  net.Listener
	url        string
	metricsURL string
	demoURL    string
	demoIBURL  string
	cancel     context.CancelFunc
	nc         *nats.Conn                  // cluster mode only
	kv         *natskv.KV                  // cluster mode only
	limits     ratelimit.Store             // cluster mode only
	resync     atomic.Pointer[relay.Relay] // the relay, for the NATS client's goroutine
	wg         sync.WaitGroup
	serveErr   chan error
	closeOnce  sync.Once
	closeErr   error
}

// New returns an App for cfg; Open starts it.
func New(cfg config.Config, log *slog.Logger, out io.Writer) *App {
	return &App{Config: cfg, Log: log, Out: out, HashParams: auth.DefaultParams(), serveErr: make(chan error, 4)}
}

// Open opens the database, listens on both addresses and starts serving.
func (a *App) Open(ctx context.Context) error {
	if err := a.Config.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	db, err := OpenStore(ctx, a.Config)
	if err != nil {
		return err
	}
	a.Store = db
	if err := a.bootstrapAdmin(ctx); err != nil {
		return err
	}

	pol := policy.Default()
	if a.Config.PolicyFile != "" {
		if pol, err = policy.Load(a.Config.PolicyFile); err != nil {
			return err
		}
	}
	a.Policy = &pol

	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sessCfg := session.FromConfig(a.Config)
	sessCfg.Log = a.Log
	assetsCfg := assets.FromConfig(a.Config, a.Policy)
	if a.Config.NATSURL != "" {
		if err := a.joinCluster(ctx); err != nil {
			return err
		}
		sessCfg.KV = a.kv
		if assetsCfg.Secret, err = clusterSecret(ctx, a.kv); err != nil {
			return err
		}
	} else {
		a.Broker = broker.NewMemory()
	}
	assetsCfg.Broker = a.Broker

	a.Sessions, err = session.NewManager(sessCfg)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	a.Assets, err = assets.New(assetsCfg, a.Log)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	a.Assets.Follow(a.Sessions)
	for _, o := range append(append(append([]string{}, a.Config.SiteOrigins...), a.Policy.SiteOrigins...), a.Policy.AssetOrigins...) {
		if err := a.Assets.AllowOrigin(o, false); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	a.Relay, err = relay.New(relay.FromConfig(a.Config, a.Policy), a.Sessions, a.Assets, a.Broker, a.Registry, a.Log)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	a.resync.Store(a.Relay)
	a.Audit, err = audit.New(a.Store, a.Log, nil)
	if err != nil {
		return err
	}
	a.Audit.Follow(a.Sessions)
	a.Sessions.Subscribe(lifecycleLogger(a.Log))
	a.ln, err = net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", a.Config.Addr, err)
	}
	a.url = a.Config.PublicURL
	if a.url == "" {
		a.url = "http://" + a.ln.Addr().String()
	}
	// The server compares Origins with the URL browsers use, so it needs
	// the address actually listened on (":0" in tests).
	srvCfg := a.Config
	srvCfg.PublicURL = a.url
	srv, err := server.New(server.Options{
		Config: srvCfg, Store: a.Store, Audit: a.Audit, Sessions: a.Sessions, Relay: a.Relay, PageFiles: a.Assets, Web: web.Dist(), Policy: a.Policy,
		Registry: a.Registry, Log: a.Log, HashParams: a.HashParams, Limits: a.limits, Health: a.health,
	})
	if err != nil {
		a.ln.Close()
		return err
	}
	a.server = srv
	if a.Config.MetricsAddr != "" {
		a.metricsLn, err = net.Listen("tcp", a.Config.MetricsAddr)
		if err != nil {
			a.ln.Close()
			return fmt.Errorf("listen metrics %s: %w", a.Config.MetricsAddr, err)
		}
		a.metricsURL = "http://" + a.metricsLn.Addr().String()
	}

	if a.Config.DemoAddr != "" {
		a.demoLn, err = net.Listen("tcp", a.Config.DemoAddr)
		if err != nil {
			a.ln.Close()
			return fmt.Errorf("listen demo %s: %w", a.Config.DemoAddr, err)
		}
		a.demoURL = "http://" + a.demoLn.Addr().String()
		if err := a.AllowOrigin(a.demoURL); err != nil {
			return err
		}
		// Browsers treat localhost and 127.0.0.1 as different origins; allow both spellings of the demo.
		if host, port, _ := net.SplitHostPort(a.demoLn.Addr().String()); host == "127.0.0.1" {
			if err := a.AllowOrigin("http://localhost:" + port); err != nil {
				return err
			}
		}
		if a.Config.DemoIBAddr != "" {
			a.demoIBLn, err = net.Listen("tcp", a.Config.DemoIBAddr)
			if err != nil {
				a.ln.Close()
				a.demoLn.Close()
				return fmt.Errorf("listen demo internet banking %s: %w", a.Config.DemoIBAddr, err)
			}
			a.demoIBURL = "http://" + a.demoIBLn.Addr().String()
			if err := a.AllowOrigin(a.demoIBURL); err != nil {
				return err
			}
		}
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.http = newHTTPServer(srv.Handler(), a.Log)
	a.serve(a.http, a.ln)
	if a.metricsLn != nil {
		a.metrics = newHTTPServer(srv.MetricsHandler(), a.Log)
		a.serve(a.metrics, a.metricsLn)
	}
	urls := func() demo.URLs { return demo.URLs{Tomoni: a.url, Bank: a.demoURL, IB: a.demoIBURL} }
	if a.demoLn != nil {
		a.demo = newHTTPServer(demo.Handler(web.Demo(), urls), a.Log)
		a.serve(a.demo, a.demoLn)
	}
	if a.demoIBLn != nil {
		a.demoIB = newHTTPServer(demo.Handler(web.DemoIB(), urls), a.Log)
		a.serve(a.demoIB, a.demoIBLn)
	}
	a.wg.Go(func() { a.Sessions.Run(runCtx, time.Second) })
	if a.kv != nil {
		// Deleted keys leave markers in the bucket; an hour later no node
		// needs them.
		a.wg.Go(func() {
			every(runCtx, 10*time.Minute, func() {
				if err := a.kv.PurgeDeletes(runCtx, time.Hour); err != nil && runCtx.Err() == nil {
					a.Log.Warn("cluster: purge deleted keys", "err", err)
				}
			})
		})
	}
	a.wg.Go(func() { a.housekeeping(runCtx) })
	a.wg.Go(func() { a.Audit.Run(runCtx, 5*time.Second) })
	// Consoles of logins revoked outside this process (tomoni user
	// disable|passwd, another node) close within 5 s.
	a.wg.Go(func() { every(runCtx, 5*time.Second, func() { a.server.CloseRevokedLogins(runCtx) }) })
	return nil
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (a *App) serve(s *http.Server, ln net.Listener) {
	a.wg.Go(func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
			a.serveErr <- err
		}
	})
}

func (a *App) housekeeping(ctx context.Context) {
	a.enforceRetention(ctx)
	every(ctx, time.Minute, func() {
		a.server.Sweep()
		if _, err := a.Store.DeleteExpiredLogins(ctx, time.Now()); err != nil && ctx.Err() == nil {
			a.Log.Warn("delete expired logins", "err", err)
		}
		a.enforceRetention(ctx)
	})
}

// every runs fn each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// lifecycleLogger logs each session's life at the info level: ids,
// reasons, device classes and durations, never codes or content.
func lifecycleLogger(log *slog.Logger) func(session.Change) {
	return func(c session.Change) {
		s := c.Session
		switch {
		case c.Warning > 0:
		case c.Prev == "" && s.State == session.Waiting:
			log.Info("session created", "session", s.ID, "staff", s.StaffID)
		case c.RequestEvent == session.EventRequested:
			log.Info("join request", "session", s.ID, "device", c.Request.Device, "browser", c.Request.Browser, "waiting_requests", len(s.Requests))
		case c.RequestEvent == session.RequestAdmitted:
			log.Info("join request admitted: customer joined", "session", s.ID, "device", s.Device, "browser", s.Browser)
		case c.RequestEvent != "":
			log.Info("join request closed", "session", s.ID, "how", c.RequestEvent)
		case c.Watching != nil:
			log.Info("supervisor watching", "session", s.ID, "staff", c.Watching.StaffID)
		case c.HandoverEvent != "":
			log.Info(c.Handover.Kind+" "+c.HandoverEvent, "session", s.ID, "to_staff", c.Handover.To.StaffID, "by_staff", c.Handover.By, "staff", s.StaffID)
		case s.State == session.Ended && c.Prev != session.Ended:
			log.Info("session ended", "session", s.ID, "reason", s.Reason, "joined_for", s.Duration().Round(time.Second))
		case c.Prev != s.State && (s.State == session.Paused || s.State == session.Live):
			log.Info("session "+string(s.State), "session", s.ID, "reason", s.Reason)
		}
	}
}

// enforceRetention deletes audit rows older than the configured retention.
func (a *App) enforceRetention(ctx context.Context) {
	cut := time.Now().AddDate(0, 0, -a.Config.AuditRetentionDays)
	n, err := a.Store.DeleteAuditBefore(ctx, cut)
	switch {
	case err != nil && ctx.Err() == nil:
		a.Log.Warn("audit retention", "err", err)
	case n > 0:
		a.Log.Info("audit rows past their retention deleted", "rows", n, "before", cut.Format(time.DateOnly))
	}
}

// AllowOrigin lets a site that this deployment runs itself (the demo bank,
// or a test's own pages) embed the SDK and serve page files from this
// machine's private addresses, which the asset fetcher otherwise refuses.
func (a *App) AllowOrigin(o string) error {
	if err := a.server.AllowOrigin(o); err != nil {
		return err
	}
	return a.Assets.AllowOrigin(o, true)
}

// URL is the server's base URL; DemoURL the demo bank's and DemoIBURL the
// demo internet banking's ("" when off).
func (a *App) URL() string       { return a.url }
func (a *App) DemoURL() string   { return a.demoURL }
func (a *App) DemoIBURL() string { return a.demoIBURL }

// MetricsURL is the operators' listener (/metrics, /healthz); "" when off.
func (a *App) MetricsURL() string { return a.metricsURL }

// Err delivers a fatal serving error.
func (a *App) Err() <-chan error { return a.serveErr }

// Close ends live sessions with reason "shutdown", stops serving and closes
// the database. Calling it again returns the first result.
func (a *App) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.close() })
	return a.closeErr
}

func (a *App) close() error {
	// A single node takes its sessions with it. A node of a cluster leaves
	// them to the others: its sockets are told to reconnect (4100) and the
	// load balancer sends them to another node.
	if a.Sessions != nil && a.kv == nil {
		a.Sessions.EndAll(session.ReasonShutdown)
	}
	var errs []error
	if a.Relay != nil {
		// Sessions have ended, so every socket gets its 4000 "shutdown";
		// give them a moment to hear it before the listeners go.
		wait := 2 * time.Second
		if a.kv != nil {
			// A node of a cluster records each socket's going in the shared
			// state, so that the node the client comes back through takes
			// the session over at once: give the sockets time to go.
			wait = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		if err := a.Relay.Shutdown(ctx); err != nil {
			a.Log.Warn("closing sockets", "err", err)
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range []*http.Server{a.http, a.metrics, a.demo, a.demoIB} {
		if s != nil {
			if err := s.Shutdown(ctx); err != nil {
				errs = append(errs, err)
				s.Close()
			}
		}
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	if a.Sessions != nil {
		a.Sessions.Close()
	}
	if a.Broker != nil {
		a.Broker.Close()
	}
	if a.kv != nil {
		if err := a.kv.Close(); err != nil {
			a.Log.Warn("leaving the cluster", "err", err)
		}
	}
	if a.nc != nil {
		a.nc.Close()
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}

// bootstrapAdmin creates the first staff account on an empty database and
// prints its password once. Customers confirm the name staff show, so the
// account carries --admin-name (or 管理者, with a hint how to change it).
func (a *App) bootstrapAdmin(ctx context.Context) error {
	n, err := a.Store.CountStaff(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	name := a.Config.AdminName
	if name == "" {
		name = "管理者"
	}
	_, pw, err := a.Accounts().Add(ctx, "admin", name, "", store.RoleAdmin)
	if errors.Is(err, accounts.ErrTaken) || errors.Is(err, apperr.ErrConflict) {
		return nil // another node of the cluster, starting at the same time, made it
	}
	if err != nil {
		return fmt.Errorf("first administrator: %w", err)
	}
	fmt.Fprintf(a.Out, "Created the first staff account (shown only this once):\n  username: admin\n  password: %s\n  name shown to customers: %s\n", pw, name)
	if a.Config.AdminName == "" {
		fmt.Fprintf(a.Out, "  (set the name with --admin-name on first start, or later: tomoni user rename admin -display 山田太郎)\n")
	}
	return nil
}

// Accounts manages staff accounts in this node's store.
func (a *App) Accounts() *accounts.Service {
	return &accounts.Service{Store: a.Store, Hash: a.HashParams}
}

// AddStaff creates a staff account with a chosen password.
func (a *App) AddStaff(ctx context.Context, username, displayName, password string, role store.Role) (store.Staff, error) {
	if password == "" {
		return store.Staff{}, accounts.ErrPassword
	}
	st, _, err := a.Accounts().Add(ctx, username, displayName, password, role)
	return st, err
}

// OpenStore opens the database cfg names: PostgreSQL when a database URL
// is set, else SQLite in the data directory. `tomoni user` uses it alone.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "tomoni.db"))
}

// joinCluster connects to NATS and opens the shared session state and the
// relay's subjects on it. The client reconnects by itself for as long as
// the node runs: while NATS is away, sessions on this node wait for it.
func (a *App) joinCluster(ctx context.Context) error {
	log := a.Log
	nc, err := nats.Connect(a.Config.NATSURL,
		nats.Name("tomoni"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: this node closing it
				log.Warn("cluster: NATS connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("cluster: NATS connection back", "server", c.ConnectedUrlRedacted())
			// Messages between nodes may have been lost meanwhile.
			if r := a.resync.Load(); r != nil {
				go r.ResyncAll()
			}
		}),
	)
	if err != nil {
		return fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	a.nc = nc
	a.kv, err = natskv.Open(ctx, nc, natskv.Config{Bucket: a.Config.NATSBucket, Replicas: a.Config.NATSReplicas, Log: log})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	a.Broker = natsbroker.New(nc, natsbroker.Config{MaxMessage: int(2 * a.Config.MaxPageBytes)})
	limits, err := a.kv.Limits(ctx)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	a.limits = limits
	log.Info("joined the cluster", "node", a.kv.Node(), "nats", nc.ConnectedUrlRedacted(), "nats_server", nc.ConnectedServerVersion())
	return nil
}

// health reports why the node cannot serve: a cluster node without NATS
// can neither start nor carry a session.
func (a *App) health() error {
	if a.nc != nil && !a.nc.IsConnected() {
		return errors.New("NATS unreachable")
	}
	return nil
}

// clusterSecret is the deployment's secret for page-file keys: made by the
// first node, read by the others.
func clusterSecret(ctx context.Context, kv session.KV) ([]byte, error) {
	const key = "x.assets-secret"
	for range 3 {
		if e, err := kv.Get(ctx, key); err == nil {
			return e.Value, nil
		} else if !errors.Is(err, session.ErrNoKey) {
			return nil, fmt.Errorf("cluster secret: %w", err)
		}
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		if _, err := kv.Create(ctx, key, secret); err == nil {
			return secret, nil
		} else if !errors.Is(err, session.ErrExists) {
			return nil, fmt.Errorf("cluster secret: %w", err)
		}
	}
	return nil, errors.New("cluster secret: could not read or make it")
}

// TuneGC has the garbage collector run when the heap has grown by half
// since the last collection (Go's default waits for it to double), unless
// GOGC says otherwise. A node's heap is mostly its sockets' long-lived
// state and makes little garbage per message, so collecting sooner costs
// no measurable CPU and keeps a fifth less memory per session
// (docs/benchmarks.md). The process's own setting: call it from main.
func TuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}
