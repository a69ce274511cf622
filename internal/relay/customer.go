package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// cleanPauseReason keeps the reasons a customer page may report; anything
// else becomes "site", since it is audited and shown to staff.
func cleanPauseReason(r string) string {
	switch r {
	case "excluded_page", "secure_input", "site", "hidden":
		return r
	}
	return "site"
}

// CleanDevice maps anything unknown to "unknown": the value is audited and
// shown to staff, so it must not carry free text.
func CleanDevice(d string) string {
	switch d {
	case "pc", "tablet", "phone":
		return d
	}
	return "unknown"
}

func acceptOptions() *websocket.AcceptOptions {
	return &websocket.AcceptOptions{
		// The server checks Origin against the configured allow-list before
		// calling the relay, with scheme and port, which the library's
		// host-only patterns cannot express.
		InsecureSkipVerify: true,
		// No context takeover keeps per-connection compressor memory flat.
		CompressionMode: websocket.CompressionNoContextTakeover,
	}
}

// ServeCustomer upgrades the request and relays the customer's events to
// staff until the session ends or the socket goes. The caller has verified
// the customer token and the Origin.
func (r *Relay) ServeCustomer(w http.ResponseWriter, req *http.Request, s session.Session) {
	ws, err := websocket.Accept(w, req, acceptOptions())
	if err != nil {
		r.log.Info("customer accept failed", "session", s.ID, "err", err)
		return
	}
	ws.SetReadLimit(r.cfg.MaxCustomerMessage)
	c := newConn(ws, r.cfg, r.cfg.QueueMessages, r.cfg.QueueBytes)

	r.mu.Lock()
	old := r.customers[s.ID]
	r.customers[s.ID] = c
	r.mu.Unlock()
	if old != nil {
		old.kick(protocol.CloseReplaced, "replaced by a newer connection")
		r.metrics.Rejected.WithLabelValues("customer", "replaced").Inc()
	}
	defer func() {
		r.mu.Lock()
		last := r.customers[s.ID] == c
		if last {
			delete(r.customers, s.ID)
		}
		r.mu.Unlock()
		if last {
			r.sessions.SetConnected(s.ID, true, false)
		}
	}()

	sub, err := r.broker.Subscribe(broker.ToCustomer(s.ID), func(msg []byte) {
		if ended, reason := isEnded(msg); ended {
			c.q.appendFinal(item{data: msg, code: protocol.CloseSessionEnded, reason: reason})
			return
		}
		if !c.q.push(item{data: msg}) {
			// Only pointer and highlight updates can pile up here, and the
			// newest one supersedes the rest.
			r.metrics.Dropped.WithLabelValues("customer", "queue_full").Inc()
		}
	})
	if err != nil {
		ws.Close(protocol.CloseServerShutdown, "relay unavailable")
		return
	}
	defer sub.Unsubscribe()

	r.metrics.Connections.WithLabelValues("customer").Inc()
	defer r.metrics.Connections.WithLabelValues("customer").Dec()
	r.sessions.SetConnected(s.ID, true, true)

	cur, err := r.sessions.Get(s.ID)
	if err != nil || cur.State == session.Ended {
		c.q.appendFinal(item{data: stateMessage(cur), code: protocol.CloseSessionEnded, reason: cur.Reason})
	} else {
		c.q.push(item{data: stateMessage(cur)})
	}

	limit := ratelimit.NewBucket(r.cfg.CustomerRate, r.cfg.CustomerBurst, r.now)
	filter := policy.NewFilter(r.cfg.Policy)
	err = c.run(req.Context(), func(ctx context.Context, data []byte) error {
		if !limit.Allow() {
			r.metrics.Rejected.WithLabelValues("customer", "rate").Inc()
			return closeWith(protocol.CloseRateLimited, "event rate above the limit")
		}
		return r.handleCustomer(ctx, s.ID, filter, data)
	})
	r.log.Debug("customer socket closed", "session", s.ID, "err", err)
}

// customerMessage is every customer message shape in one, so each message
// is parsed once.
type customerMessage struct {
	T      string            `json:"t"`
	CT     int64             `json:"ct"`
	Events []json.RawMessage `json:"events"`
	State  string            `json:"state"`
	Reason string            `json:"reason"`
	Device string            `json:"device"`
	Width  int               `json:"vw"`
	Height int               `json:"vh"`
}

func (r *Relay) handleCustomer(ctx context.Context, id string, filter *policy.Filter, data []byte) error {
	var m customerMessage
	if err := json.Unmarshal(data, &m); err != nil {
		r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
		return closeWith(protocol.CloseMalformed, "malformed message")
	}
	cur, err := r.sessions.Get(id)
	if err != nil || cur.State == session.Ended {
		return closeWith(protocol.CloseSessionEnded, "session ended")
	}
	switch m.T {
	case protocol.TypeEvents:
		if m.Events == nil {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "malformed events")
		}
		if cur.State != session.Live {
			// Paused means nothing flows, whatever the page sends.
			r.metrics.Dropped.WithLabelValues("customer", "paused").Inc()
			return nil
		}
		evs, st, err := filter.Process(m.Events)
		if err != nil {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			if errors.Is(err, policy.ErrTooLarge) {
				return closeWith(protocol.CloseTooLarge, "page too large to filter")
			}
			return closeWith(protocol.CloseMalformed, "malformed events")
		}
		r.countFilter(id, st)
		if len(evs) == 0 {
			return nil
		}
		out := protocol.AppendStaffEvents(make([]byte, 0, len(data)+32), r.now().UnixMilli(), m.CT, evs)
		r.metrics.Messages.WithLabelValues("to_staff").Inc()
		r.metrics.Bytes.WithLabelValues("to_staff").Add(float64(len(out)))
		return r.broker.Publish(ctx, broker.ToStaff(id), out)
	case protocol.TypeHello:
		out, _ := json.Marshal(protocol.Hello{T: protocol.TypeHello, Device: CleanDevice(m.Device), Width: clampDim(m.Width), Height: clampDim(m.Height)})
		return r.broker.Publish(ctx, broker.ToStaff(id), out)
	case protocol.TypeStatus:
		switch m.State {
		case string(session.Paused):
			r.sessions.Pause(id, cleanPauseReason(m.Reason))
		case string(session.Live):
			r.sessions.Resume(id)
		default:
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "unknown status")
		}
		return nil
	case protocol.TypeEnd:
		r.sessions.End(id, session.ReasonCustomer)
		return nil
	default:
		r.metrics.Rejected.WithLabelValues("customer", "unknown_type").Inc()
		return closeWith(protocol.CloseMalformed, "unknown message type")
	}
}

// countFilter records what the server filter did. Scrubs mean the SDK let
// something through: they are logged (counts only, never content).
func (r *Relay) countFilter(id string, st policy.Stats) {
	if st.Values > 0 {
		r.metrics.Scrubbed.WithLabelValues("values").Add(float64(st.Values))
	}
	if st.Texts > 0 {
		r.metrics.Scrubbed.WithLabelValues("texts").Add(float64(st.Texts))
	}
	if st.Attributes > 0 {
		r.metrics.Scrubbed.WithLabelValues("attributes").Add(float64(st.Attributes))
	}
	if st.URLs > 0 {
		r.metrics.Cleaned.WithLabelValues("urls").Add(float64(st.URLs))
	}
	if st.Excluded > 0 {
		r.metrics.Cleaned.WithLabelValues("excluded").Add(float64(st.Excluded))
	}
	if st.Scrubbed() > 0 {
		r.log.Warn("server filter scrubbed values the SDK did not mask", "session", id, "values", st.Values, "texts", st.Texts, "attributes", st.Attributes)
	}
}

func clampDim(v int) int { return max(0, min(v, 100_000)) }
