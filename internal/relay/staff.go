package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

var (
	resetMsg  = mustJSON(protocol.Simple{T: protocol.TypeReset})
	resyncMsg = mustJSON(protocol.Simple{T: protocol.TypeResync})
)

// Viewer is the staff member behind a console socket.
type Viewer struct {
	Login      string // the login's token hash, so EndLogin can close the socket
	StaffID    int64
	Name       string
	Supervises bool // may watch any session read-only
}

// ServeStaff upgrades the request and relays the session to a staff console.
// The caller has verified the login, the Origin and that the staff member
// is one of the session's staff or a supervisor. What a console may send
// is decided per message, from the session as it is then: only presenters
// point, highlight and draw; a supervisor who is not one watches, and the
// customer is told.
func (r *Relay) ServeStaff(w http.ResponseWriter, req *http.Request, s session.Session, v Viewer) {
	login := v.Login
	if !s.Presents(v.StaffID) {
		release, err := r.sessions.Watch(s.ID, v.StaffID, v.Name)
		if err == nil {
			defer release()
		}
	}
	var lastResync atomic.Int64
	r.serve(w, req, s, side{
		role: "staff", customer: false, stream: true,
		readLimit: r.cfg.MaxStaffMessage, rate: r.cfg.StaffRate, burst: r.cfg.StaffBurst,
		// Staff messages are small and few; their byte budget is the
		// message rate times the message cap.
		byteRate: r.cfg.StaffRate * float64(r.cfg.MaxStaffMessage), byteBurst: r.cfg.StaffBurst * int(r.cfg.MaxStaffMessage),
		inbox: broker.ToStaff(s.ID),
		attach: func(c *conn) func() bool {
			// A session may be open in more than one console; it counts as
			// without staff only when the last one goes.
			set := r.staff[s.ID]
			if set == nil {
				set = make(map[*conn]struct{})
				r.staff[s.ID] = set
			}
			set[c] = struct{}{}
			c.staffID, c.supervises, c.session = v.StaffID, v.Supervises, s.ID
			byLogin := r.logins[login]
			if byLogin == nil {
				byLogin = make(map[*conn]struct{})
				r.logins[login] = byLogin
			}
			byLogin[c] = struct{}{}
			return func() bool {
				delete(byLogin, c)
				if len(byLogin) == 0 {
					delete(r.logins, login)
				}
				delete(set, c)
				if len(set) > 0 {
					return false
				}
				delete(r.staff, s.ID)
				return true
			}
		},
		overflow: func(c *conn) {
			// A console that cannot keep up gets a fresh snapshot instead of
			// an ever-growing backlog; the customer is never slowed down.
			c.q.replace(item{data: resetMsg})
			r.metrics.Resyncs.Inc()
			now := r.now().UnixMilli()
			if prev := lastResync.Load(); now-prev >= r.cfg.ResyncMinInterval.Milliseconds() && lastResync.CompareAndSwap(prev, now) {
				r.publish(context.Background(), broker.ToCustomer(s.ID), resyncMsg)
			}
		},
		control: func(c *conn, msg []byte) {
			var m control
			if json.Unmarshal(msg, &m) != nil || m.T != controlPresenters {
				return
			}
			// After a hand-over the former staff member's consoles close;
			// supervisors keep watching.
			if !c.supervises && !slices.Contains(m.Presenters, c.staffID) {
				c.kick(protocol.CloseHandedOver, "handed over")
			}
		},
		opened: func(ctx context.Context, _ *conn, cur session.Session) {
			if cur.Active() {
				// A console that (re)connects mid-session needs a full snapshot.
				r.publish(ctx, broker.ToCustomer(s.ID), resyncMsg)
			}
		},
		// Each console hears its own link's round trip.
		rtt:    func(c *conn, d time.Duration) { c.q.push(item{data: linkMessage("staff", d)}) },
		handle: func(ctx context.Context, data []byte) error { return r.handleStaff(ctx, s.ID, v.StaffID, data) },
	})
}

var readOnlyNotice = mustJSON(protocol.Notice{T: protocol.TypeNotice, Code: "read_only"})

func (r *Relay) handleStaff(ctx context.Context, id string, staffID int64, data []byte) error {
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
	cur, err := r.sessions.PointingOf(id, staffID)
	if err != nil || cur.State == session.Ended {
		return closeWith(protocol.CloseSessionEnded, "session ended")
	}
	switch m := msg.(type) {
	case protocol.Simple:
		if m.T == protocol.TypeEnd {
			r.endSession(id, session.ReasonStaff)
			return nil
		}
		if cur.State != session.Live {
			return nil
		}
	case protocol.Pointer, protocol.Highlight, protocol.Stroke:
		if !cur.Presents {
			// A supervisor watching, or staff whose session was just handed
			// on: nothing they send reaches the customer's screen.
			r.metrics.Dropped.WithLabelValues("staff", "read_only").Inc()
			r.noticeTo(id, staffID, readOnlyNotice)
			return nil
		}
		if cur.State != session.Live {
			// Nothing on a paused page may be pointed at.
			r.metrics.Dropped.WithLabelValues("staff", "paused").Inc()
			return nil
		}
		from := protocol.From{By: cur.Me.Colour, Name: cur.Me.Name}
		switch m := msg.(type) {
		case protocol.Pointer:
			m.From = from
			msg = m
		case protocol.Highlight:
			m.From = from
			msg = m
		case protocol.Stroke:
			m.From = from
			msg = m
		}
		out := mustJSON(msg)
		r.metrics.toCustomer.Inc()
		r.publish(ctx, broker.ToCustomer(id), out)
		// The session's other staff see it too: a supervisor watching sees
		// where the agent points, as the customer does. With nobody else
		// on the session it would only come back to the sender.
		if cur.Others {
			r.publish(ctx, broker.ToStaff(id), out)
		}
		return nil
	}
	r.metrics.toCustomer.Inc()
	r.publish(ctx, broker.ToCustomer(id), mustJSON(msg))
	return nil
}

// noticeTo queues a notice on staffID's consoles of a session on this node.
func (r *Relay) noticeTo(id string, staffID int64, msg []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.staff[id] {
		if c.staffID == staffID {
			c.q.push(item{data: msg})
		}
	}
}

// ResyncAll asks the customer of every session with a console on this
// node for a fresh snapshot: after the node's link to the other nodes
// (NATS) was down, messages may have been lost on the way, and a snapshot
// repairs whatever gap there is.
func (r *Relay) ResyncAll() {
	r.mu.Lock()
	ids := make([]string, 0, len(r.staff))
	for id := range r.staff {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.publish(context.Background(), broker.ToCustomer(id), resyncMsg)
	}
}

// EndLogin closes every staff socket opened under a login (4001), when the
// staff member logs out: nothing more of any session reaches that browser.
func (r *Relay) EndLogin(login string) {
	r.mu.Lock()
	conns := make([]*conn, 0, len(r.logins[login]))
	for c := range r.logins[login] {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.kick(protocol.CloseUnauthorized, "logged out")
	}
}

// EndWatching closes the consoles of a login that watch a session they
// are not staff of (4003), when the account is no longer a supervisor.
func (r *Relay) EndWatching(login string) {
	r.mu.Lock()
	var watching []*conn
	for c := range r.logins[login] {
		if c.supervises {
			watching = append(watching, c)
		}
	}
	r.mu.Unlock()
	for _, c := range watching {
		if s, err := r.sessions.Get(c.session); err != nil || !s.Presents(c.staffID) {
			c.kick(protocol.CloseForbidden, "no longer a supervisor")
		}
	}
}

// Logins lists the staff logins with sockets open on this node, so that
// logins revoked elsewhere (another process, another node) can be found
// and their sockets closed with EndLogin.
func (r *Relay) Logins() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.logins))
	for l := range r.logins {
		out = append(out, l)
	}
	return out
}
