// Package relay runs the two WebSockets of a session: the customer's, which
// streams rrweb events in, and the staff's, which streams them out and sends
// back only pointer, highlight, end and resync. Every queue is bounded and no
// connection ever waits on another.
package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/assets"
	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/jsonscan"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// Config bounds every connection. Every field must be set; config.Default
// holds the product's values.
type Config struct {
	MaxCustomerMessage int64         // bytes per customer message
	MaxPageBytes       int64         // bytes of one event sent in parts (a page's snapshot)
	MaxStaffMessage    int64         // bytes per staff message
	QueueMessages      int           // messages queued per connection
	QueueBytes         int64         // bytes queued per connection
	CustomerRate       float64       // customer messages per second
	CustomerBurst      int           // customer burst (a snapshot plus its first batches)
	CustomerBytesRate  float64       // customer bytes per second, as inflated
	CustomerBytesBurst int           // customer bytes at once, as inflated (at least one largest message)
	StaffRate          float64       // staff messages per second
	StaffBurst         int           // staff burst
	PingInterval       time.Duration // how often each socket is pinged
	WriteTimeout       time.Duration // deadline of each write and ping
	ResyncMinInterval  time.Duration // at most one slow-consumer resync per connection per interval
	// Policy drives the server-side privacy filter (page exclusion, URL cleaning).
	Policy *policy.Policy
}

// FromConfig takes the relay's part of the deployment's configuration.
func FromConfig(cfg config.Config, pol *policy.Policy) Config {
	b := cfg.Bounds
	return Config{
		MaxCustomerMessage: cfg.MaxCustomerMessage, MaxStaffMessage: cfg.MaxStaffMessage, MaxPageBytes: cfg.MaxPageBytes,
		QueueMessages: b.QueueMessages, QueueBytes: b.QueueBytes,
		CustomerRate: b.CustomerRate, CustomerBurst: b.CustomerBurst,
		// The burst holds at least one whole page, so a large page's snapshot
		// goes through at once; the rate still bounds what a sender sustains.
		CustomerBytesRate: b.CustomerBytesRate, CustomerBytesBurst: max(b.CustomerBytesBurst, int(cfg.MaxPageBytes+cfg.MaxCustomerMessage)), StaffRate: b.StaffRate, StaffBurst: b.StaffBurst,
		PingInterval: b.PingInterval, WriteTimeout: b.WriteTimeout, ResyncMinInterval: b.ResyncMinInterval,
		Policy: pol,
	}
}

// Validate reports the first bound that is not set.
func (c Config) Validate() error {
	switch {
	case c.MaxCustomerMessage <= 0, c.MaxStaffMessage <= 0:
		return errors.New("relay: message size caps must be positive")
	case c.MaxPageBytes < c.MaxCustomerMessage:
		return errors.New("relay: the page cap must hold at least one message")
	case c.QueueMessages <= 0, c.QueueBytes <= 0:
		return errors.New("relay: queue bounds must be positive")
	case c.CustomerRate <= 0, c.CustomerBurst <= 0, c.StaffRate <= 0, c.StaffBurst <= 0:
		return errors.New("relay: rates and bursts must be positive")
	case c.CustomerBytesRate <= 0, int64(c.CustomerBytesBurst) < c.MaxCustomerMessage:
		return errors.New("relay: the customer byte rate must be positive and its burst hold the largest message")
	case c.PingInterval <= 0, c.WriteTimeout <= 0, c.ResyncMinInterval <= 0:
		return errors.New("relay: ping interval, write timeout and resync interval must be positive")
	case c.Policy == nil:
		return errors.New("relay: a policy is required")
	}
	return nil
}

// Relay connects customers and staff through the broker.
type Relay struct {
	cfg         Config
	sessions    *session.Manager
	assets      *assets.Service
	broker      broker.Broker
	metrics     *Metrics
	log         *slog.Logger
	now         func() time.Time
	unsubscribe func()
	// recycler lends the maps a customer event's data is decoded into,
	// taken back once the event is relayed.
	recycler jsonscan.Recycler

	mu        sync.Mutex
	customers map[string]*conn              // session id → the one customer socket on this node
	staff     map[string]map[*conn]struct{} // session id → staff sockets on this node
	logins    map[string]map[*conn]struct{} // staff login → its sockets on this node
	closing   bool
	drained   chan struct{} // closed when the last socket goes after Shutdown began
	node      string        // prefixes socket ids
	nextConn  atomic.Uint64
	// beforeAttach, when set (by tests), runs on each socket's goroutine
	// between its upgrade and its attach: a slow setup made on purpose.
	beforeAttach func(req *http.Request)

	departures *departures
	// reads holds the buffers sockets read messages into, and those a
	// page's snapshot for the consoles is written into.
	reads bufferPool
}

// New returns a relay that follows sessions' changes until Shutdown. Every
// customer event passes the privacy filter, then pages' file references
// are rewritten by as to Tomoni's asset paths.
func New(cfg Config, sessions *session.Manager, as *assets.Service, b broker.Broker, reg prometheus.Registerer, log *slog.Logger) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Relay{
		cfg:       cfg,
		sessions:  sessions,
		assets:    as,
		broker:    b,
		metrics:   newMetrics(reg),
		log:       log,
		now:       time.Now,
		customers: make(map[string]*conn),
		staff:     make(map[string]map[*conn]struct{}),
		logins:    make(map[string]map[*conn]struct{}),
		drained:   make(chan struct{}),
		node:      randomID(),
	}
	r.departures = newDepartures(r)
	r.unsubscribe = sessions.Subscribe(r.notify)
	as.SetAsker(r.askCustomerFile)
	return r, nil
}

// Config returns the effective configuration.
func (r *Relay) Config() Config { return r.cfg }

// publish sends msg and logs a failure: a lost state change or pointer is
// not fatal to the sender, but an operator must be able to see it.
func (r *Relay) publish(ctx context.Context, subject string, msg []byte) {
	if err := r.broker.Publish(ctx, subject, msg); err != nil {
		r.metrics.Dropped.WithLabelValues("broker", "publish_failed").Inc()
		r.log.Warn("broker publish failed", "subject", subject, "err", err)
	}
}

// notify tells both sides of a session about a state change.
func (r *Relay) notify(c session.Change) {
	s := c.Session
	ctx := context.Background()
	r.publish(ctx, broker.ToStaff(s.ID), stateMessage(s, true))
	if s.State == session.Waiting {
		return // no customer yet
	}
	r.publish(ctx, broker.ToCustomer(s.ID), stateMessage(s, false))
	if c.HandoverEvent != "" && c.HandoverEvent != session.HandoverRequested {
		// Consoles say how the question ended: the state alone cannot tell
		// a refusal from a lapse.
		r.publish(ctx, broker.ToStaff(s.ID), mustJSON(protocol.HandoverOutcome{T: protocol.TypeHandover, Event: c.HandoverEvent, Kind: c.Handover.Kind, To: c.Handover.To.Name}))
	}
	if c.HandoverEvent == session.HandoverAccepted {
		// Consoles of whoever no longer has the session close, on every node.
		ids := make([]int64, 0, len(s.Presenters))
		for _, p := range s.Presenters {
			ids = append(ids, p.StaffID)
		}
		r.publish(ctx, broker.ToStaff(s.ID), mustJSON(control{T: controlPresenters, Presenters: ids}))
	}
	if c.Warning > 0 {
		w := mustJSON(protocol.Status{T: protocol.TypeStatus, State: "warning", Reason: c.Warning.Round(time.Second).String()})
		r.publish(ctx, broker.ToStaff(s.ID), w)
		r.publish(ctx, broker.ToCustomer(s.ID), w)
	}
}

// askCustomerFile asks a live session's customer for a page file; a paused
// page sends nothing, files included.
func (r *Relay) askCustomerFile(sessionID string, id int64, url string) error {
	s, err := r.sessions.Get(sessionID)
	if err != nil || s.State != session.Live || !s.CustomerConnected {
		return assets.ErrNoCustomerFile
	}
	r.metrics.Messages.WithLabelValues("file_request").Inc()
	return r.broker.Publish(context.Background(), broker.ToCustomer(sessionID), mustJSON(protocol.FileRequest{T: protocol.TypeFileRequest, ID: id, URL: url}))
}

// endSession ends a session on behalf of a socket and logs anything but
// "already ended".
func (r *Relay) endSession(id, reason string) {
	if _, err := r.sessions.End(id, reason); err != nil && !errors.Is(err, apperr.ErrEnded) {
		r.log.Warn("end session", "session", id, "reason", reason, "err", err)
	}
}

// stateMessage tells one side a session's state; staff also get the
// customer's browser and the join requests waiting for their decision.
// Both sides hear who is on the session; the customer hears names and
// colours only, never staff ids.
func stateMessage(s session.Session, staff bool) []byte {
	st := protocol.State{
		T: protocol.TypeState, State: string(s.State), Session: s.ID, Reason: s.Reason,
		Device: s.Device, Connected: s.CustomerConnected, Seen: s.CustomerSeen, StaffName: s.StaffName,
	}
	if !staff {
		type person struct {
			Name   string `json:"name"`
			Colour int    `json:"colour"`
		}
		type handover struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		}
		msg := struct {
			protocol.State
			Presenters []person  `json:"presenters,omitempty"`
			Watchers   []string  `json:"watchers,omitempty"`
			Handover   *handover `json:"handover,omitempty"`
		}{State: st}
		for _, p := range s.Presenters {
			msg.Presenters = append(msg.Presenters, person{p.Name, p.Colour})
		}
		for _, w := range s.Watchers {
			msg.Watchers = append(msg.Watchers, w.Name)
		}
		if s.Handover != nil {
			msg.Handover = &handover{s.Handover.To.Name, s.Handover.Kind}
		}
		return mustJSON(msg)
	}
	return mustJSON(struct {
		protocol.State
		StaffID     int64             `json:"staff_id"`
		Browser     string            `json:"browser,omitempty"`
		Requests    []session.Request `json:"requests,omitempty"`
		RefusedBusy int               `json:"refused_busy,omitempty"`
		Presenters  []session.Member  `json:"presenters,omitempty"`
		Watchers    []session.Member  `json:"watchers,omitempty"`
		Handover    *session.Handover `json:"handover,omitempty"`
	}{st, s.StaffID, s.Browser, s.Requests, s.RefusedBusy, s.Presenters, s.Watchers, s.Handover})
}

// linkMessage tells a console the round trip of one side's socket (a
// ping and its pong), for its connection-quality badge.
func linkMessage(side string, d time.Duration) []byte {
	return mustJSON(protocol.Link{T: protocol.TypeLink, Side: side, RTTMS: d.Milliseconds()})
}

// mustJSON encodes values whose encoding cannot fail (fixed structs of
// strings, numbers and booleans).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("relay: encode %T: %v", v, err))
	}
	return b
}

// Control messages travel between nodes on a session's subjects: the
// relay builds every message that goes there (nothing a browser sends is
// passed on as it came), so none can be forged, and sockets never see them.
const (
	controlReplace    = "_replace"    // a newer customer socket (By) took over
	controlPresenters = "_presenters" // who may still present after a hand-over
)

type control struct {
	T  string `json:"t"`
	By string `json:"by,omitempty"`
	// When and where the socket By was asked for: a replace announced
	// late by an older socket (one that was still being set up when a
	// newer one came) must not close the newer one.
	At         int64   `json:"at,omitempty"`
	Node       string  `json:"node,omitempty"`
	Seq        uint64  `json:"seq,omitempty"`
	Presenters []int64 `json:"presenters,omitempty"`
}

// newerThan reports whether the socket a replace announces was asked for
// after c. On one node the order is known exactly; between nodes the wall
// clocks decide, and a tie is settled the same way on both.
func (m control) newerThan(c *conn, node string) bool {
	if m.Node == node {
		return m.Seq > c.seq
	}
	if m.At != c.born {
		return m.At > c.born
	}
	return m.Node > node
}

var controlPrefix = []byte(`{"t":"_`)

func isControl(msg []byte) bool { return bytes.HasPrefix(msg, controlPrefix) }

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

// Shutdown closes every socket on this node and waits until they are gone
// or ctx ends. A socket whose session goes on (another node can take it
// over) is told to reconnect (4100); one whose session has ended gets the
// end (4000) that the session manager already sent.
func (r *Relay) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closing = true
	var conns []*conn
	var ids []string
	for id, c := range r.customers {
		conns, ids = append(conns, c), append(ids, id)
	}
	for id, set := range r.staff {
		for c := range set {
			conns, ids = append(conns, c), append(ids, id)
		}
	}
	r.checkDrainedLocked()
	r.mu.Unlock()
	r.unsubscribe()
	for i, c := range conns {
		if s, err := r.sessions.Get(ids[i]); err == nil && s.State != session.Ended {
			c.kick(protocol.CloseServerShutdown, "server shutting down")
		}
	}
	select {
	case <-r.drained:
		// Every socket has gone: what the session state should know of it
		// is written before the node lets go of the state.
		r.departures.flush(ctx)
		r.departures.stop()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("relay shutdown: %d sockets still open: %w", len(conns), ctx.Err())
	}
}

func (r *Relay) checkDrainedLocked() {
	if !r.closing || len(r.customers) > 0 || len(r.staff) > 0 {
		return
	}
	select {
	case <-r.drained:
	default:
		close(r.drained)
	}
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
