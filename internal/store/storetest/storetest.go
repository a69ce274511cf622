// Package storetest is the contract test suite every store.Store dialect runs.
package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
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
		a, err := s.CreateStaff(ctx, store.Staff{Username: "sato", DisplayName: "佐藤", PasswordHash: "h", Role: store.RoleAdmin})
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
		if got, err := s.StaffByID(ctx, a.ID); err != nil || got.Username != "sato" || got.Role != store.RoleAdmin {
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
	t.Run("audit newest first, filtered and paged", func(t *testing.T) {
		s := open(t)
		base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
		must[int64](t)(s.AppendAudit(ctx, store.AuditEntry{At: base, Kind: store.AuditSessionCreated, SessionID: "a", StaffID: 1}))
		must[int64](t)(s.AppendAudit(ctx, store.AuditEntry{At: base.Add(time.Hour), Kind: store.AuditSessionEnded, SessionID: "a", StaffID: 1, Reason: "staff", DurationMS: 1234, Device: "phone"}))
		burst := must[int64](t)(s.AppendAudit(ctx, store.AuditEntry{At: base.Add(2 * time.Hour), Kind: store.AuditJoinFailed, Reason: "invalid_code", ClientHash: "c"}))
		must[int64](t)(s.AppendAudit(ctx, store.AuditEntry{At: base.Add(3 * time.Hour), Kind: store.AuditSessionEnded, SessionID: "b", StaffID: 2, Reason: "customer"}))
		check(t, s.SetAuditCount(ctx, burst, 5214))
		rows, err := s.ListAudit(ctx, store.AuditQuery{Limit: 10})
		if err != nil || len(rows) != 4 {
			t.Fatalf("rows %v %v", rows, err)
		}
		if rows[0].SessionID != "b" || rows[1].Count != 5214 || rows[3].Count != 1 {
			t.Fatalf("rows %+v", rows)
		}
		for name, tc := range map[string]struct {
			q    store.AuditQuery
			want []string // session ids, or kinds for rows without one
		}{
			"staff":  {store.AuditQuery{StaffID: 1}, []string{"a", "a"}},
			"kind":   {store.AuditQuery{Kind: store.AuditSessionEnded}, []string{"b", "a"}},
			"reason": {store.AuditQuery{Kind: store.AuditSessionEnded, Reason: "staff"}, []string{"a"}},
			"dates":  {store.AuditQuery{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)}, []string{store.AuditJoinFailed, "a"}},
			"paging": {store.AuditQuery{BeforeID: rows[1].ID, Limit: 1}, []string{"a"}},
		} {
			got, err := s.ListAudit(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				if r.SessionID != "" {
					ids = append(ids, r.SessionID)
				} else {
					ids = append(ids, r.Kind)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%s: %v, want %v", name, ids, tc.want)
			}
		}
		if n, err := s.DeleteAuditBefore(ctx, base.Add(90*time.Minute)); err != nil || n != 2 {
			t.Fatalf("retention deleted %d, %v", n, err)
		}
		if rows, _ := s.ListAudit(ctx, store.AuditQuery{}); len(rows) != 2 {
			t.Fatalf("%d rows after retention", len(rows))
		}
	})
	t.Run("accounts can be listed, changed and their logins revoked", func(t *testing.T) {
		s := open(t)
		a := must[store.Staff](t)(s.CreateStaff(ctx, store.Staff{Username: "sato", DisplayName: "佐藤", PasswordHash: "h"}))
		must[store.Staff](t)(s.CreateStaff(ctx, store.Staff{Username: "abe", DisplayName: "阿部", PasswordHash: "h"}))
		list, err := s.ListStaff(ctx)
		if err != nil || len(list) != 2 || list[0].Username != "abe" {
			t.Fatalf("list %+v %v", list, err)
		}
		a.Username, a.DisplayName, a.PasswordHash, a.Disabled = "sato2", "佐藤 花子", "h2", true
		check(t, s.UpdateStaff(ctx, a))
		if got, _ := s.StaffByID(ctx, a.ID); got.Username != "sato2" || got.DisplayName != "佐藤 花子" || got.PasswordHash != "h2" || !got.Disabled {
			t.Fatalf("after update %+v", got)
		}
		a.Username = "abe"
		if err := s.UpdateStaff(ctx, a); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("rename onto a taken username: %v", err)
		}
		if err := s.UpdateStaff(ctx, store.Staff{ID: 999, Username: "x"}); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("update of a missing account: %v", err)
		}
		now := time.Now()
		for _, h := range []string{"one", "two", "kept"} {
			check(t, s.CreateLogin(ctx, store.Login{TokenHash: h, StaffID: a.ID, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		}
		gone, err := s.DeleteLoginsOf(ctx, a.ID, "kept")
		slices.Sort(gone)
		if err != nil || strings.Join(gone, ",") != "one,two" {
			t.Fatalf("revoked %v %v", gone, err)
		}
		if _, err := s.LoginByTokenHash(ctx, "kept"); err != nil {
			t.Fatalf("the kept login went: %v", err)
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
