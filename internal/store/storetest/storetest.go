// Package storetest is the contract test suite every store.Store dialect runs.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// Run runs the contract against stores made by open (each call a fresh, empty store).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	t.Run("staff accounts", func(t *testing.T) {
		s := open(t)
		a, err := s.CreateStaff(ctx, store.Staff{Username: "sato", DisplayName: "佐藤", PasswordHash: "h", Admin: true})
		if err != nil || a.ID == 0 {
			t.Fatalf("create: %+v %v", a, err)
		}
		if _, err := s.CreateStaff(ctx, store.Staff{Username: "sato", DisplayName: "x", PasswordHash: "h"}); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("duplicate username: %v", err)
		}
		got, err := s.StaffByUsername(ctx, "sato")
		if err != nil || got.ID != a.ID || got.DisplayName != "佐藤" {
			t.Fatalf("by username: %+v %v", got, err)
		}
		if _, err := s.StaffByUsername(ctx, "nobody"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("missing username: %v", err)
		}
		if got, err := s.StaffByID(ctx, a.ID); err != nil || got.Username != "sato" || !got.Admin {
			t.Fatalf("by id: %+v %v", got, err)
		}
		if n, err := s.CountStaff(ctx); err != nil || n != 1 {
			t.Fatalf("count %d, %v", n, err)
		}
	})
	t.Run("logins expire", func(t *testing.T) {
		s := open(t)
		a := must[store.Staff](t)(s.CreateStaff(ctx, store.Staff{Username: "u", DisplayName: "U", PasswordHash: "h"}))
		now := time.Now()
		check(t, s.CreateLogin(ctx, store.Login{TokenHash: "old", StaffID: a.ID, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(-time.Second)}))
		check(t, s.CreateLogin(ctx, store.Login{TokenHash: "new", StaffID: a.ID, CSRF: "c2", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		if n, err := s.DeleteExpiredLogins(ctx, now); err != nil || n != 1 {
			t.Fatalf("deleted %d, %v", n, err)
		}
		l, err := s.LoginByTokenHash(ctx, "new")
		if err != nil || l.CSRF != "c2" || l.StaffID != a.ID {
			t.Fatalf("login: %+v %v", l, err)
		}
		check(t, s.DeleteLogin(ctx, "new"))
		if _, err := s.LoginByTokenHash(ctx, "new"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
	t.Run("audit newest first", func(t *testing.T) {
		s := open(t)
		check(t, s.AppendAudit(ctx, store.AuditEntry{Kind: store.AuditSessionCreated, SessionID: "a"}))
		check(t, s.AppendAudit(ctx, store.AuditEntry{Kind: store.AuditSessionEnded, SessionID: "a", Reason: "staff", DurationMS: 1234, Device: "phone"}))
		rows, err := s.ListAudit(ctx, 10)
		if err != nil || len(rows) != 2 {
			t.Fatalf("rows %v %v", rows, err)
		}
		if rows[0].Kind != store.AuditSessionEnded || rows[0].DurationMS != 1234 || rows[0].Device != "phone" {
			t.Fatalf("newest row %+v", rows[0])
		}
	})
}

// check fails the test on a setup error, so a broken setup cannot pass as a
// passing assertion.
func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
}

// must returns v, failing the test on err.
func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("setup: %v", err)
		}
		return v
	}
}
