package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/app"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
)

func TestUserAdd(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	var out bytes.Buffer
	err := run(context.Background(), []string{"user", "add", "yamada", "-display", "山田", "-data", dir}, env, strings.NewReader("a-long-password-1\n"), &out, &out)
	if err != nil {
		t.Fatalf("user add: %v (%s)", err, out.String())
	}
	st, err := app.OpenStore(context.Background(), dir)
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
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate user: %v", err)
	}
	// A short password is refused.
	err = run(context.Background(), []string{"user", "add", "sato", "-data", dir}, env, strings.NewReader("short\n"), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "at least 10") {
		t.Fatalf("short password: %v", err)
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
