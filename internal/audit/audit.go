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
	"sync"
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

	mu        sync.Mutex
	bursts    map[burstKey]*burst
	maxBursts int
}

// Refusals come in bursts (a guesser, a script, a user hammering a button):
// one row per burst, with a count, keeps the audit readable and its size
// bounded by the number of attackers rather than their speed.
const (
	// burstGap is the quiet time that ends a burst.
	burstGap = time.Minute
	// defaultMaxBursts bounds the bursts followed at once; past it, new
	// ones are counted together per kind and reason (network "many").
	defaultMaxBursts = 10_000
)

type burstKey struct{ kind, reason, client, username string }

type burst struct {
	id      int64
	count   int64
	written int64 // the count the row holds
	last    time.Time
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
	return &Log{store: st, log: log, now: now, salt: salt, bursts: make(map[burstKey]*burst), maxBursts: defaultMaxBursts}, nil
}

// Write appends a row. A failure is logged, never returned: the action it
// records has already happened, and its caller cannot undo it.
func (l *Log) Write(ctx context.Context, e store.AuditEntry) {
	l.write(ctx, e)
}

func (l *Log) write(ctx context.Context, e store.AuditEntry) int64 {
	if e.At.IsZero() {
		e.At = l.now()
	}
	id, err := l.store.AppendAudit(context.WithoutCancel(ctx), e)
	if err != nil {
		l.log.Error("audit write failed", "kind", e.Kind, "err", err)
	}
	return id
}

// Refused records a refused attempt (a wrong code, a failed login, a rate
// limit). The first of a burst (same kind, reason, client network and
// username, no gap longer than a minute) gets a row at once; the rest only
// raise that row's count, which Flush writes.
func (l *Log) Refused(ctx context.Context, e store.AuditEntry) {
	k := burstKey{e.Kind, e.Reason, e.ClientHash, e.Username}
	now := l.now()
	l.mu.Lock()
	b, ok := l.bursts[k]
	if !ok && len(l.bursts) >= l.maxBursts {
		k.client, k.username = "many", ""
		e.ClientHash, e.Username = "many", ""
		b, ok = l.bursts[k]
	}
	if ok && now.Sub(b.last) < burstGap {
		b.count++
		b.last = now
		l.mu.Unlock()
		return
	}
	// A new burst: its row is written outside the lock.
	b = &burst{count: 1, written: 1, last: now}
	l.bursts[k] = b
	l.mu.Unlock()
	e.At, e.Count = now, 1
	id := l.write(ctx, e)
	l.mu.Lock()
	b.id = id
	l.mu.Unlock()
}

// Flush writes the counts of bursts that grew and forgets bursts that
// ended.
func (l *Log) Flush(ctx context.Context) {
	now := l.now()
	type update struct{ id, count int64 }
	var updates []update
	l.mu.Lock()
	for k, b := range l.bursts {
		if b.id != 0 && b.count != b.written {
			updates = append(updates, update{b.id, b.count})
			b.written = b.count
		}
		if now.Sub(b.last) >= burstGap {
			delete(l.bursts, k)
		}
	}
	l.mu.Unlock()
	for _, u := range updates {
		if err := l.store.SetAuditCount(context.WithoutCancel(ctx), u.id, u.count); err != nil {
			l.log.Error("audit count write failed", "err", err)
		}
	}
}

// Run flushes every interval until ctx ends, then once more.
func (l *Log) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			l.Flush(ctx)
		}
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
	case c.Watching != nil:
		// Who watched a customer's screen is the bank's to know.
		e.Kind, e.StaffID = store.AuditWatchStarted, c.Watching.StaffID
	case c.HandoverEvent != "":
		// requested, accepted, declined, lapsed or cancelled; the row names
		// the staff member it was for.
		e.Kind, e.StaffID = store.AuditHandover, c.Handover.To.StaffID
		e.Reason = c.Handover.Kind + "_" + c.HandoverEvent
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
