// Package audit writes Tomoni's audit trail: who did what, to which session,
// when, for how long and how it ended. It receives metadata only; screen
// content never reaches it.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// Log writes audit rows to the store.
type Log struct {
	store store.Store
	log   *slog.Logger
	now   func() time.Time
	salt  []byte
}

// New returns a log writing to st; now may be nil for the real clock.
func New(st store.Store, log *slog.Logger, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("audit salt: %w", err)
	}
	return &Log{store: st, log: log, now: now, salt: salt}, nil
}

// Write appends a row. A failure is logged, never returned: the action it
// records has already happened, and its caller cannot undo it.
func (l *Log) Write(ctx context.Context, e store.AuditEntry) {
	if e.At.IsZero() {
		e.At = l.now()
	}
	if err := l.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		l.log.Error("audit write failed", "kind", e.Kind, "err", err)
	}
}

// ClientHash keys a client address for the audit without storing it: a
// per-process salt makes the hash useless for lookups elsewhere.
func (l *Log) ClientHash(addr string) string {
	m := hmac.New(sha256.New, l.salt)
	m.Write([]byte(addr))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// Follow records the sessions' lifecycle (created, joined, paused, resumed,
// ended with reason and duration) until the returned cancel is called.
// Connection flaps and time warnings are not audited.
func (l *Log) Follow(m *session.Manager) (cancel func()) {
	return m.Subscribe(func(c session.Change) {
		if e, ok := entryFor(c); ok {
			e.At = l.now()
			l.Write(context.Background(), e)
		}
	})
}

// entryFor maps a session change to its audit row, if it gets one.
func entryFor(c session.Change) (store.AuditEntry, bool) {
	ss := c.Session
	e := store.AuditEntry{StaffID: ss.StaffID, SessionID: ss.ID, Device: ss.Device}
	switch {
	case c.Warning > 0:
		return e, false
	case c.RequestEvent == session.EventDeclined || c.RequestEvent == session.EventOutranked:
		e.Kind, e.Device = store.AuditJoinDeclined, c.Request.Device
		e.Reason = map[string]string{session.EventDeclined: "staff", session.EventOutranked: "other_admitted"}[c.RequestEvent]
	case c.RequestEvent != "" && c.RequestEvent != session.RequestAdmitted:
		return e, false // requests that came, went or lapsed: the decision is what counts
	case c.Prev == "" && ss.State == session.Waiting:
		e.Kind = store.AuditSessionCreated
	case c.Prev == session.Waiting && ss.State == session.Live:
		e.Kind = store.AuditSessionJoined
	case ss.State == session.Ended && c.Prev != session.Ended:
		e.Kind = store.AuditSessionEnded
		e.Reason = ss.Reason
		e.DurationMS = ss.Duration().Milliseconds()
	case c.Prev == session.Live && ss.State == session.Paused:
		e.Kind, e.Reason = store.AuditSessionPaused, ss.Reason
	case c.Prev == session.Paused && ss.State == session.Live:
		e.Kind = store.AuditSessionResumed
	default:
		return e, false
	}
	return e, true
}
