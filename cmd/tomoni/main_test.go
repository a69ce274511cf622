package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

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

func TestBadFlagsAreRefused(t *testing.T) {
	// Were a bad flag ever accepted, run would start a server: on :0 ports
	// and a temporary directory, with a context that is already over, so it
	// stops at once and the test reports the acceptance instead of hanging.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	safe := []string{"--addr", "127.0.0.1:0", "--demo-addr", "", "--demo-ib-addr", "", "--data", t.TempDir()}
	var out bytes.Buffer
	if err := run(ctx, safe, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("the safe arguments alone must start and stop cleanly: %v (%s)", err, out.String())
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--max-live", "0"}, "max live"},
		{[]string{"--code-ttl", "soon"}, "code-ttl"},
		{[]string{"--site-origin", "bank.example"}, "bank.example"},
		{[]string{"extra"}, "extra"},
	} {
		var out bytes.Buffer
		err := run(ctx, append(append([]string{}, safe...), tc.args...), func(string) string { return "" }, strings.NewReader(""), &out, &out)
		if err == nil {
			t.Errorf("%v accepted", tc.args)
		} else if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v refused with %q, which does not name %q", tc.args, err, tc.says)
		}
	}
}
