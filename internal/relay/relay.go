// Package relay runs the two WebSockets of a session: the customer's, which
// streams rrweb events in, and the staff's, which streams them out and sends
// back only pointer, highlight, end and resync. Every queue is bounded and no
// connection ever waits on another.
package relay

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// Config bounds every connection. Zero values take the defaults.
type Config struct {
	MaxCustomerMessage int64         // bytes per customer message (4 MiB)
	MaxStaffMessage    int64         // bytes per staff message (4 KiB)
	QueueMessages      int           // messages queued per connection (256)
	QueueBytes         int64         // bytes queued per staff connection (16 MiB)
	CustomerRate       float64       // customer messages per second (50)
	CustomerBurst      int           // (200; a snapshot plus its first batches)
	StaffRate          float64       // staff messages per second (40)
	StaffBurst         int           // (80)
	PingInterval       time.Duration // (20 s)
	WriteTimeout       time.Duration // (10 s)
	ResyncMinInterval  time.Duration // at most one slow-consumer resync per connection per interval (2 s)
	// Policy drives the server-side privacy filter (page exclusion, URL
	// cleaning). Nil means policy.Default().
	Policy *policy.Policy
}

func (c Config) withDefaults() Config {
	if c.MaxCustomerMessage <= 0 {
		c.MaxCustomerMessage = 4 << 20
	}
	if c.MaxStaffMessage <= 0 {
		c.MaxStaffMessage = 4 << 10
	}
	if c.QueueMessages <= 0 {
		c.QueueMessages = 256
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 16 << 20
	}
	if c.CustomerRate <= 0 {
		c.CustomerRate = 50
	}
	if c.CustomerBurst <= 0 {
		c.CustomerBurst = 200
	}
	if c.StaffRate <= 0 {
		c.StaffRate = 40
	}
	if c.StaffBurst <= 0 {
		c.StaffBurst = 80
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ResyncMinInterval <= 0 {
		c.ResyncMinInterval = 2 * time.Second
	}
	if c.Policy == nil {
		p := policy.Default()
		c.Policy = &p
	}
	return c
}

// Relay connects customers and staff through the broker.
type Relay struct {
	cfg      Config
	sessions *session.Manager
	broker   broker.Broker
	metrics  *Metrics
	log      *slog.Logger
	now      func() time.Time

	mu         sync.Mutex
	customers  map[string]*conn // session id → the one customer socket on this node
	staffConns map[string]int   // session id → open staff sockets on this node
}

// New returns a relay.
func New(cfg Config, sessions *session.Manager, b broker.Broker, reg prometheus.Registerer, log *slog.Logger) *Relay {
	return &Relay{
		cfg:        cfg.withDefaults(),
		sessions:   sessions,
		broker:     b,
		metrics:    newMetrics(reg),
		log:        log,
		now:        time.Now,
		customers:  make(map[string]*conn),
		staffConns: make(map[string]int),
	}
}

// Config returns the effective configuration.
func (r *Relay) Config() Config { return r.cfg }

// Notify tells both sides of a session about a state change. Wire it as (part
// of) the session manager's listener.
func (r *Relay) Notify(c session.Change) {
	s := c.Session
	msg := stateMessage(s)
	ctx := context.Background()
	if err := r.broker.Publish(ctx, broker.ToStaff(s.ID), msg); err != nil {
		r.log.Warn("publish state to staff", "session", s.ID, "err", err)
	}
	if s.State == session.Waiting {
		return // no customer yet
	}
	if err := r.broker.Publish(ctx, broker.ToCustomer(s.ID), msg); err != nil {
		r.log.Warn("publish state to customer", "session", s.ID, "err", err)
	}
	if c.Warning > 0 {
		w, _ := json.Marshal(protocol.Status{T: protocol.TypeStatus, State: "warning", Reason: c.Warning.Round(time.Second).String()})
		r.broker.Publish(ctx, broker.ToStaff(s.ID), w)
		r.broker.Publish(ctx, broker.ToCustomer(s.ID), w)
	}
}

func stateMessage(s session.Session) []byte {
	b, _ := json.Marshal(protocol.State{
		T: protocol.TypeState, State: string(s.State), Session: s.ID, Reason: s.Reason,
		Device: s.Device, Connected: s.CustomerConnected, Seen: s.CustomerSeen, StaffName: s.StaffName,
	})
	return b
}

// isEnded recognises the relay's own "state: ended" messages cheaply:
// only small state messages are decoded.
func isEnded(msg []byte) (bool, string) {
	const prefix = `{"t":"state"`
	if len(msg) > 1024 || len(msg) < len(prefix) || string(msg[:len(prefix)]) != prefix {
		return false, ""
	}
	var st protocol.State
	if json.Unmarshal(msg, &st) != nil {
		return false, ""
	}
	return st.State == string(session.Ended), st.Reason
}
