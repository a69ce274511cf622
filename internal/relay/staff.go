package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

var (
	resetMsg  = mustJSON(protocol.Simple{T: protocol.TypeReset})
	resyncMsg = mustJSON(protocol.Simple{T: protocol.TypeResync})
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// ServeStaff upgrades the request and relays the session to a staff console.
// The caller has verified the login, the Origin and that the staff member
// owns the session.
func (r *Relay) ServeStaff(w http.ResponseWriter, req *http.Request, s session.Session) {
	ws, err := websocket.Accept(w, req, acceptOptions())
	if err != nil {
		r.log.Info("staff accept failed", "session", s.ID, "err", err)
		return
	}
	ws.SetReadLimit(r.cfg.MaxStaffMessage)
	c := newConn(ws, r.cfg, r.cfg.QueueMessages, r.cfg.QueueBytes)

	var lastResync atomic.Int64
	sub, err := r.broker.Subscribe(broker.ToStaff(s.ID), func(msg []byte) {
		if ended, reason := isEnded(msg); ended {
			c.q.appendFinal(item{data: msg, code: protocol.CloseSessionEnded, reason: reason})
			return
		}
		if c.q.push(item{data: msg}) {
			return
		}
		// A console that cannot keep up gets a fresh snapshot instead of an
		// ever-growing backlog; the customer is never slowed down.
		c.q.replace(item{data: resetMsg})
		r.metrics.Resyncs.Inc()
		now := r.now().UnixMilli()
		if prev := lastResync.Load(); now-prev >= r.cfg.ResyncMinInterval.Milliseconds() && lastResync.CompareAndSwap(prev, now) {
			r.broker.Publish(context.Background(), broker.ToCustomer(s.ID), resyncMsg)
		}
	})
	if err != nil {
		ws.Close(protocol.CloseServerShutdown, "relay unavailable")
		return
	}
	defer sub.Unsubscribe()

	r.metrics.Connections.WithLabelValues("staff").Inc()
	defer r.metrics.Connections.WithLabelValues("staff").Dec()
	// A session may be open in more than one console; it counts as without
	// staff only when the last one goes.
	r.mu.Lock()
	r.staffConns[s.ID]++
	r.mu.Unlock()
	r.sessions.SetConnected(s.ID, false, true)
	defer func() {
		r.mu.Lock()
		r.staffConns[s.ID]--
		last := r.staffConns[s.ID] == 0
		if last {
			delete(r.staffConns, s.ID)
		}
		r.mu.Unlock()
		if last {
			r.sessions.SetConnected(s.ID, false, false)
		}
	}()

	cur, err := r.sessions.Get(s.ID)
	switch {
	case err != nil || cur.State == session.Ended:
		c.q.appendFinal(item{data: stateMessage(cur), code: protocol.CloseSessionEnded, reason: cur.Reason})
	default:
		c.q.push(item{data: stateMessage(cur)})
		if cur.Active() {
			// A console that (re)connects mid-session needs a full snapshot.
			r.broker.Publish(req.Context(), broker.ToCustomer(s.ID), resyncMsg)
		}
	}

	limit := ratelimit.NewBucket(r.cfg.StaffRate, r.cfg.StaffBurst, r.now)
	err = c.run(req.Context(), func(ctx context.Context, data []byte) error {
		if !limit.Allow() {
			r.metrics.Rejected.WithLabelValues("staff", "rate").Inc()
			return closeWith(protocol.CloseRateLimited, "message rate above the limit")
		}
		return r.handleStaff(ctx, s.ID, data)
	})
	r.log.Debug("staff socket closed", "session", s.ID, "err", err)
}

func (r *Relay) handleStaff(ctx context.Context, id string, data []byte) error {
	msg, err := protocol.ParseStaff(data)
	switch {
	case errors.Is(err, protocol.ErrForbidden):
		r.metrics.Rejected.WithLabelValues("staff", "forbidden").Inc()
		r.log.Warn("staff sent a message type outside the allow-list; closing", "session", id)
		return closeWith(protocol.CloseForbidden, "message type not allowed")
	case err != nil:
		r.metrics.Rejected.WithLabelValues("staff", "malformed").Inc()
		return closeWith(protocol.CloseMalformed, "malformed message")
	}
	cur, err := r.sessions.Get(id)
	if err != nil || cur.State == session.Ended {
		return closeWith(protocol.CloseSessionEnded, "session ended")
	}
	switch m := msg.(type) {
	case protocol.Simple:
		if m.T == protocol.TypeEnd {
			r.sessions.End(id, session.ReasonStaff)
			return nil
		}
		if cur.State != session.Live {
			return nil
		}
	case protocol.Pointer, protocol.Highlight:
		if cur.State != session.Live {
			// Nothing on a paused page may be pointed at.
			r.metrics.Dropped.WithLabelValues("staff", "paused").Inc()
			return nil
		}
	}
	out, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	r.metrics.Messages.WithLabelValues("to_customer").Inc()
	return r.broker.Publish(ctx, broker.ToCustomer(id), out)
}

// Shutdown tells every socket on this node to reconnect elsewhere.
func (r *Relay) Shutdown(wait time.Duration) {
	r.mu.Lock()
	conns := make([]*conn, 0, len(r.customers))
	for _, c := range r.customers {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.kick(protocol.CloseServerShutdown, "server shutting down")
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.customers)
		r.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
