package audit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
	"github.com/tomoni-cobrowse/tomoni/internal/store/sqlite"
)

func TestEntryFor(t *testing.T) {
	joined := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	s := session.Session{ID: "s1", StaffID: 7, Device: "phone", JoinedAt: joined}
	with := func(st session.State, reason string) session.Session {
		c := s
		c.State, c.Reason = st, reason
		if st == session.Ended {
			c.EndedAt = joined.Add(90 * time.Second)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		change session.Change
		kind   string
		reason string
	}{
		{"created", session.Change{Session: with(session.Waiting, ""), Prev: ""}, store.AuditSessionCreated, ""},
		{"joined", session.Change{Session: with(session.Live, ""), Prev: session.Waiting}, store.AuditSessionJoined, ""},
		{"paused", session.Change{Session: with(session.Paused, "secure_input"), Prev: session.Live}, store.AuditSessionPaused, "secure_input"},
		{"resumed", session.Change{Session: with(session.Live, ""), Prev: session.Paused}, store.AuditSessionResumed, ""},
		{"ended", session.Change{Session: with(session.Ended, "staff"), Prev: session.Live}, store.AuditSessionEnded, "staff"},
		{"connection flap", session.Change{Session: with(session.Live, ""), Prev: session.Live}, "", ""},
		{"time warning", session.Change{Session: with(session.Live, ""), Prev: session.Live, Warning: time.Minute}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := entryFor(tc.change)
			if tc.kind == "" {
				if ok {
					t.Fatalf("audited as %+v; want no row", e)
				}
				return
			}
			if !ok || e.Kind != tc.kind || e.Reason != tc.reason || e.SessionID != "s1" || e.StaffID != 7 || e.Device != "phone" {
				t.Fatalf("row %+v (ok %v), want kind %q reason %q", e, ok, tc.kind, tc.reason)
			}
			if tc.kind == store.AuditSessionEnded && e.DurationMS != 90_000 {
				t.Fatalf("duration %d ms, want 90000", e.DurationMS)
			}
		})
	}
}

// Following a manager writes a row for each lifecycle step, in order, and
// nothing after cancel.
func TestFollowWritesTheLifecycle(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log, err := New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.NewManager(session.FromConfig(config.Default()))
	if err != nil {
		t.Fatal(err)
	}
	cancel := log.Follow(m)
	s, err := m.Create(1, "A")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sessiontest.Join(m, s.Code, "pc"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.End(s.ID, session.ReasonCustomer); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := m.Create(1, "A"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.ListAudit(ctx, store.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(rows) - 1; i >= 0; i-- {
		kinds = append(kinds, rows[i].Kind)
	}
	want := []string{store.AuditSessionCreated, store.AuditSessionJoined, store.AuditSessionEnded}
	if len(kinds) != len(want) {
		t.Fatalf("rows %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("rows %v, want %v", kinds, want)
		}
	}
}

func TestClientHashIsStableAndSalted(t *testing.T) {
	a, _ := New(nil, nil, nil)
	b, _ := New(nil, nil, nil)
	if first, again := a.ClientHash("192.0.2.1"), a.ClientHash("192.0.2.1"); first != again {
		t.Fatal("the same address hashed twice differs")
	}
	if a.ClientHash("192.0.2.1") == b.ClientHash("192.0.2.1") {
		t.Fatal("two processes hash an address alike: the salt is missing")
	}
	if len(a.ClientHash("192.0.2.1")) != 16 {
		t.Fatal("hash length changed")
	}
}

// 52,214 refusals from one network in 10 s are one row with that count
// (before, 52,214 rows); another network is its own row; a burst that
// resumes after a quiet minute starts a new row.
func TestRefusalsAreOneRowPerBurst(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l, err := New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), clock)
	if err != nil {
		t.Fatal(err)
	}
	wrong := store.AuditEntry{Kind: store.AuditJoinFailed, Reason: "invalid_code", ClientHash: "net-a"}
	for i := range 52_214 {
		if i%5_000 == 0 {
			l.Flush(ctx) // flushes while the burst goes on only update the count
		}
		now = now.Add(10 * time.Second / 52_214)
		l.Refused(ctx, wrong)
	}
	other := wrong
	other.ClientHash = "net-b"
	l.Refused(ctx, other)
	l.Flush(ctx)
	rows, _ := db.ListAudit(ctx, store.AuditQuery{Limit: 10})
	if len(rows) != 2 || rows[1].Count != 52_214 || rows[0].Count != 1 || rows[0].ClientHash != "net-b" {
		t.Fatalf("rows %+v", rows)
	}
	now = now.Add(2 * time.Minute)
	l.Flush(ctx) // the burst has ended
	l.Refused(ctx, wrong)
	l.Flush(ctx)
	if rows, _ := db.ListAudit(ctx, store.AuditQuery{Limit: 10}); len(rows) != 3 || rows[0].Count != 1 {
		t.Fatalf("a new burst after a quiet minute: %+v", rows)
	}
}

// Past the bursts it can follow, new networks are counted together, so an
// attacker with many addresses still cannot write a row per attempt.
func TestManyNetworksShareARow(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.maxBursts = 50
	for i := range l.maxBursts + 500 {
		l.Refused(ctx, store.AuditEntry{Kind: store.AuditJoinFailed, Reason: "invalid_code", ClientHash: fmt.Sprint("net-", i)})
	}
	l.Flush(ctx)
	rows, _ := db.ListAudit(ctx, store.AuditQuery{Limit: 2})
	var total int64
	all, _ := db.ListAudit(ctx, store.AuditQuery{Limit: 100_000})
	for _, r := range all {
		total += r.Count
	}
	if len(all) != l.maxBursts+1 || int(total) != l.maxBursts+500 || rows[0].ClientHash != "many" {
		t.Fatalf("%d rows holding %d refusals (newest %+v); want %d rows holding %d", len(all), total, rows[0], l.maxBursts+1, l.maxBursts+500)
	}
}
