package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/app"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

func TestUserAdd(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	var out bytes.Buffer
	err := run(context.Background(), []string{"user", "add", "yamada", "-display", "山田", "-data", dir}, env, strings.NewReader("a-long-password-1\n"), &out, &out)
	if err != nil {
		t.Fatalf("user add: %v (%s)", err, out.String())
	}
	st, err := app.OpenStore(context.Background(), config.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.StaffByUsername(context.Background(), "yamada")
	if err != nil || s.DisplayName != "山田" {
		t.Fatalf("stored %+v, %v", s, err)
	}
	if ok, _ := auth.VerifyPassword("a-long-password-1", s.PasswordHash); !ok {
		t.Fatal("password from stdin not stored")
	}
	// The same name twice is refused with a clear error.
	err = run(context.Background(), []string{"user", "add", "yamada", "-data", dir}, env, strings.NewReader("another-password-2\n"), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("duplicate user: %v", err)
	}
	// A short password is refused.
	err = run(context.Background(), []string{"user", "add", "sato", "-data", dir}, env, strings.NewReader("short\n"), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "at least 10") {
		t.Fatalf("short password: %v", err)
	}
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	env := func(string) string { return "" }
	user := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append(append([]string{"user"}, args...), "-data", dir), env, strings.NewReader(stdin), &out, &out)
		return out.String(), err
	}
	mustUser := func(stdin string, args ...string) string {
		t.Helper()
		out, err := user(stdin, args...)
		if err != nil {
			t.Fatalf("user %v: %v (%s)", args, err, out)
		}
		return out
	}
	mustUser("boss-password-1\n", "add", "boss", "-display", "上司", "-admin")
	mustUser("yamada-password\n", "add", "yamada", "-display", "山田")
	st, err := app.OpenStore(ctx, config.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	y, _ := st.StaffByUsername(ctx, "yamada")
	now := time.Now()
	for _, h := range []string{"login-1", "login-2"} {
		if err := st.CreateLogin(ctx, store.Login{TokenHash: h, StaffID: y.ID, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if out := mustUser("", "rename", "yamada", "-to", "yamada.t", "-display", "山田 太郎"); !strings.Contains(out, "山田 太郎") {
		t.Fatalf("rename said %q", out)
	}
	if out := mustUser("", "disable", "yamada.t"); !strings.Contains(out, "2 login(s) ended") {
		t.Fatalf("disable said %q", out)
	}
	if _, err := st.LoginByTokenHash(ctx, "login-1"); err == nil {
		t.Fatal("a disabled account's login survived")
	}
	out := mustUser("", "list")
	for _, want := range []string{"boss", "上司", "admin", "yamada.t", "山田 太郎", "disabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	mustUser("", "enable", "yamada.t")
	if out := mustUser("", "passwd", "yamada.t"); !strings.Contains(out, "New password for yamada.t: ") {
		t.Fatalf("passwd said %q", out)
	}
	mustUser("brand-new-password\n", "passwd", "yamada.t")
	if a, _ := st.StaffByUsername(ctx, "yamada.t"); a.Disabled {
		t.Fatal("still disabled after enable")
	} else if ok, _ := auth.VerifyPassword("brand-new-password", a.PasswordHash); !ok {
		t.Fatal("the password from stdin was not set")
	}
	// The last administrator who can log in stays; unknown names are named.
	if _, err := user("", "disable", "boss"); err == nil || !strings.Contains(err.Error(), "last administrator") {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if _, err := user("", "disable", "nobody"); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := user("", "rename", "boss", "-display", "bad\u202ename"); err == nil {
		t.Fatal("a display name with a bidi control was accepted")
	}
}

// stopWhenRunning cancels the run it is the output of as soon as the server
// says it is running.
// Logs arrive from the server's goroutines too, hence the lock.
type stopWhenRunning struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *stopWhenRunning) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), "Tomoni is running") {
		w.cancel()
	}
	return n, err
}

func (w *stopWhenRunning) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runToStop runs the command the way a user would; were it to start a
// server, it is stopped the moment it reports running (on :0 ports and a
// temporary directory), so a wrongly accepted flag fails the test instead
// of hanging it.
func runToStop(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := &stopWhenRunning{cancel: cancel}
	safe := []string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--demo-addr", "", "--demo-ib-addr", "", "--data", t.TempDir()}
	err := run(ctx, append(safe, args...), func(string) string { return "" }, strings.NewReader(""), out, out)
	return out.String(), err
}

func TestBadFlagsAreRefused(t *testing.T) {
	if out, err := runToStop(t); err != nil || !strings.Contains(out, "Tomoni is running") {
		t.Fatalf("the safe arguments alone must start and stop cleanly: %v (%s)", err, out)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--max-live", "0"}, "max live"},
		{[]string{"--code-ttl", "soon"}, "code-ttl"},
		{[]string{"--site-origin", "bank.example"}, "bank.example"},
		{[]string{"extra"}, "extra"},
		{[]string{"--addr", "0.0.0.0:0"}, "public-url"},
	} {
		out, err := runToStop(t, tc.args...)
		if err == nil || strings.Contains(out, "Tomoni is running") {
			t.Errorf("%v accepted (%v)", tc.args, err)
		} else if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v refused with %q, which does not name %q", tc.args, err, tc.says)
		}
	}
}

// Asking for help is not an error (main exits 0 on flag.ErrHelp), and the
// account commands explain themselves.
func TestHelp(t *testing.T) {
	env := func(string) string { return "" }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, env, strings.NewReader(""), &out, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	if err := run(context.Background(), []string{"user", "add", "-h"}, env, strings.NewReader(""), &out, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("user add -h: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"user"}, env, strings.NewReader(""), &out, &out); err != nil || !strings.Contains(out.String(), "tomoni user disable NAME") {
		t.Fatalf("user: %v %q", err, out.String())
	}
}
