package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

func mustOpen(t *testing.T) (*App, *bytes.Buffer) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr, cfg.DemoAddr, cfg.DemoIBAddr, cfg.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	out := &bytes.Buffer{}
	a := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), out)
	a.HashParams = auth.Params{Memory: 1024, Time: 1, Threads: 1}
	if err := a.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, out
}

func TestFirstStartCreatesAdminOnce(t *testing.T) {
	a, out := mustOpen(t)
	if !strings.Contains(out.String(), "username: admin") || !strings.Contains(out.String(), "password: ") {
		t.Fatalf("first start printed %q", out.String())
	}
	for _, u := range []string{a.URL() + "/healthz", a.DemoURL() + "/", a.DemoIBURL() + "/", a.MetricsURL() + "/metrics", a.MetricsURL() + "/healthz"} {
		res, err := http.Get(u)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", u, res, err)
		}
		res.Body.Close()
	}
	// A second start on the same data prints no new password.
	dir := a.Config.DataDir
	a.Close()
	cfg := a.Config
	cfg.DataDir = dir
	out2 := &bytes.Buffer{}
	b := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), out2)
	if err := b.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if out2.Len() != 0 {
		t.Fatalf("second start printed %q", out2.String())
	}
}

func TestShutdownEndsLiveSessions(t *testing.T) {
	a, _ := mustOpen(t)
	s, err := a.Sessions.Create(1, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sessiontest.Join(a.Sessions, s.Code, "pc"); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := OpenStore(context.Background(), a.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.ListAudit(context.Background(), store.AuditQuery{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || rows[0].Kind != store.AuditSessionEnded || rows[0].Reason != "shutdown" {
		t.Fatalf("newest audit row %+v, want session_ended/shutdown", rows)
	}
}

// Audit rows older than the retention (400 days by default) are deleted.
func TestAuditRetentionIsEnforced(t *testing.T) {
	a, _ := mustOpen(t)
	ctx := context.Background()
	now := time.Now()
	for _, at := range []time.Time{now.AddDate(0, 0, -401), now.AddDate(0, 0, -399)} {
		if _, err := a.Store.AppendAudit(ctx, store.AuditEntry{At: at, Kind: store.AuditLogin, Username: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	a.enforceRetention(ctx)
	rows, err := a.Store.ListAudit(ctx, store.AuditQuery{Kind: store.AuditLogin})
	if err != nil || len(rows) != 1 || now.Sub(rows[0].At) > 400*24*time.Hour {
		t.Fatalf("rows after retention: %+v %v", rows, err)
	}
}

// A session's life is in the log at the default level: created, requested,
// admitted, ended with its reason; no code in any line.
func TestLifecycleIsLogged(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), &slog.HandlerOptions{Level: slog.LevelInfo}))
	m, err := session.NewManager(session.FromConfig(config.Default()))
	if err != nil {
		t.Fatal(err)
	}
	m.Subscribe(lifecycleLogger(log))
	s, _ := m.Create(1, "佐藤")
	if _, _, err := sessiontest.Join(m, s.Code, "phone"); err != nil {
		t.Fatal(err)
	}
	m.End(s.ID, session.ReasonStaff)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{"session created", "join request", "admitted", "session ended", "reason=staff", "device=phone"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, s.Code) {
		t.Error("the log holds the join code")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
