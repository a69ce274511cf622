package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/assets"
	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/jsonscan"
	"github.com/tomoni-cobrowse/tomoni/internal/privacy"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/rrweb"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// ServeCustomer upgrades the request and relays the customer's events to
// staff until the session ends or the socket goes. The caller has verified
// the customer token and the Origin.
func (r *Relay) ServeCustomer(w http.ResponseWriter, req *http.Request, s session.Session) {
	filter := privacy.NewFilter(r.cfg.Policy)
	rewriter, err := r.assets.Rewriter(s.ID)
	if err != nil {
		r.log.Error("customer socket", "session", s.ID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	cs := r.newCustomerSocket(s.ID, filter, rewriter)
	replaced := func(c *conn) {
		c.kick(protocol.CloseReplaced, "replaced by a newer connection")
		r.metrics.Rejected.WithLabelValues("customer", "replaced").Inc()
	}
	r.serve(w, req, s, side{
		role: "customer", customer: true,
		readLimit: r.cfg.MaxCustomerMessage, rate: r.cfg.CustomerRate, burst: r.cfg.CustomerBurst,
		byteRate: r.cfg.CustomerBytesRate, byteBurst: r.cfg.CustomerBytesBurst,
		inbox: broker.ToCustomer(s.ID),
		attach: func(c *conn) func() bool {
			// One customer socket per session: a page load replaces the last
			// one. A socket asked for before the one attached here is the
			// stale one, however late its setup got this far.
			if old := r.customers[s.ID]; old != nil {
				if old.seq > c.seq {
					replaced(c)
					return func() bool { return false }
				}
				replaced(old)
			}
			r.customers[s.ID] = c
			return func() bool {
				if r.customers[s.ID] != c {
					return false
				}
				delete(r.customers, s.ID)
				return true
			}
		},
		overflow: func(*conn) {
			// Only pointer and highlight updates can pile up here, and the
			// newest one supersedes the rest.
			r.metrics.Dropped.WithLabelValues("customer", "queue_full").Inc()
		},
		control: func(c *conn, msg []byte) {
			var m control
			if json.Unmarshal(msg, &m) == nil && m.T == controlReplace && m.By != c.id && m.newerThan(c, r.node) {
				replaced(c)
			}
		},
		// One customer socket per session across the deployment: an older
		// one on another node closes when it hears of this one.
		opened: func(ctx context.Context, c *conn, _ session.Session) {
			r.publish(ctx, broker.ToCustomer(s.ID), mustJSON(control{T: controlReplace, By: c.id, At: c.born, Node: r.node, Seq: c.seq}))
		},
		// Staff see how good the customer's link is.
		rtt: func(_ *conn, d time.Duration) {
			r.publish(context.Background(), cs.toStaff, linkMessage("customer", d))
		},
		handle: func(ctx context.Context, data []byte) error {
			return r.handleCustomer(ctx, cs, data)
		},
	})
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
	// A page file from the customer's browser (t: file).
	ID   int64  `json:"id"`
	Type string `json:"type"`
	Data []byte `json:"data"` // base64 on the wire; absent when the browser could not read it
	// The visual viewport (t: viewport).
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
	S float64 `json:"s"`
	// The answer to a hand-over (t: handover).
	Accept *bool `json:"accept"`
	// One piece of a message too large for one frame (t: part): pieces
	// numbered from 0, the last one marked, that joined together are an
	// events message.
	Seq  int    `json:"seq"`
	Last bool   `json:"last"`
	Part string `json:"part"`
}

// parseCustomer reads a customer message. An events message, which a live
// page sends up to twenty times a second, is validated once and cut into
// its events with the scanner the privacy filter reads them with, several
// times cheaper than encoding/json, into m.Events's room if it has some;
// any other message, or an events message in an unusual form, is decoded
// by encoding/json.
func parseCustomer(data []byte, m *customerMessage) error {
	if bytes.HasPrefix(data, eventsPrefix) && jsonscan.Valid(data) {
		var v [3][]byte
		if jsonscan.Fields(v[:], data, "t", "ct", "events") && string(v[0]) == `"`+protocol.TypeEvents+`"` {
			ct, err := strconv.ParseInt(string(v[1]), 10, 64)
			events := m.Events[:0]
			if events == nil {
				events = make([]json.RawMessage, 0, 8)
			}
			if (err == nil || v[1] == nil) && jsonscan.Each(v[2], func(e []byte) { events = append(events, e) }) {
				m.T, m.CT, m.Events = protocol.TypeEvents, ct, events
				return nil
			}
		}
	}
	// Decoded apart, so that only this rarer path puts a message on the heap.
	var full customerMessage
	err := json.Unmarshal(data, &full)
	*m = full
	return err
}

var eventsPrefix = []byte(`{"t":"` + protocol.TypeEvents + `"`)

// pageParts joins the pieces of one oversized events message (a large
// page's snapshot). A socket has at most one in progress, and it is never
// larger than the page cap.
type pageParts struct {
	buf  []byte
	next int
}

func (p *pageParts) reset() { p.buf, p.next = nil, 0 }

// customerSocket is what relaying one customer socket's messages needs,
// made once for the socket rather than on each message.
type customerSocket struct {
	id       string
	filter   *privacy.Filter
	rewriter *assets.Rewriter
	page     pageParts
	toStaff  string                        // the broker subject of the session's consoles
	state    func() (session.State, error) // the session's state now
	// events is the room a message's events are cut into, kept between
	// messages: a batch's slice would otherwise be allocated every time.
	events []json.RawMessage
	// out is the room a message for the consoles is written into, kept
	// between messages as events is.
	out []byte
}

// maxKeptEvents bounds the room kept for the next message's events, and
// maxKeptOut the room kept for the next message to the consoles: enough
// for the mouse moves, scrolls and typing that are most of a visit (95 %
// of the demo bank's batches are under 1 KB), while a page's snapshot
// gets room of its own, so that an idle session holds 2 KB, not the
// largest page it showed.
const (
	maxKeptEvents = 256
	maxKeptOut    = 2 << 10
)

func (r *Relay) newCustomerSocket(id string, filter *privacy.Filter, rewriter *assets.Rewriter) *customerSocket {
	return &customerSocket{id: id, filter: filter, rewriter: rewriter, toStaff: broker.ToStaff(id), state: r.sessions.StateOf(id)}
}

func (r *Relay) handleCustomer(ctx context.Context, cs *customerSocket, data []byte) error {
	id, page := cs.id, &cs.page
	m := customerMessage{Events: cs.events}
	if err := parseCustomer(data, &m); err != nil {
		r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
		return closeWith(protocol.CloseMalformed, "malformed message")
	}
	state, err := cs.state()
	if err != nil || state == session.Ended {
		return closeWith(protocol.CloseSessionEnded, "session ended")
	}
	switch m.T {
	case protocol.TypeEvents:
		err := r.relayEvents(ctx, cs, state, &m, len(data))
		// The events point into the read buffer, which goes back to the
		// pool: the room is kept, not what it held.
		clear(m.Events)
		if cap(m.Events) <= maxKeptEvents {
			cs.events = m.Events[:0]
		}
		return err
	case protocol.TypePart:
		if m.Seq != page.next || len(m.Part) == 0 {
			page.reset()
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "page part out of order")
		}
		if int64(len(page.buf)+len(m.Part)) > r.cfg.MaxPageBytes {
			page.reset()
			r.metrics.Rejected.WithLabelValues("customer", "too_large").Inc()
			return closeWith(protocol.CloseTooLarge, "page too large to share")
		}
		page.buf = append(page.buf, m.Part...)
		page.next++
		if !m.Last {
			return nil
		}
		whole := page.buf
		page.reset()
		var inner customerMessage
		if err := parseCustomer(whole, &inner); err != nil || inner.T != protocol.TypeEvents {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "malformed page parts")
		}
		r.metrics.Messages.WithLabelValues("page_parts").Inc()
		// The session may have paused while the parts came in.
		if state, err = cs.state(); err != nil || state == session.Ended {
			return closeWith(protocol.CloseSessionEnded, "session ended")
		}
		return r.relayEvents(ctx, cs, state, &inner, len(whole))
	case protocol.TypeHello:
		r.publish(ctx, cs.toStaff, mustJSON(protocol.Hello{T: protocol.TypeHello, Device: protocol.CleanDevice(m.Device), Width: clampDim(m.Width), Height: clampDim(m.Height)}))
		return nil
	case protocol.TypeStatus:
		switch m.State {
		case string(session.Paused):
			r.sessions.Pause(id, protocol.CleanPauseReason(m.Reason))
		case string(session.Live):
			r.sessions.Resume(id)
		default:
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "unknown status")
		}
		return nil
	case protocol.TypeEnd:
		r.endSession(id, session.ReasonCustomer)
		return nil
	case protocol.TypeViewport:
		if state != session.Live {
			r.metrics.Dropped.WithLabelValues("customer", "paused").Inc()
			return nil
		}
		v, ok := protocol.CleanViewport(m.X, m.Y, m.W, m.H, m.S)
		if !ok {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "malformed viewport")
		}
		r.publish(ctx, cs.toStaff, mustJSON(v))
		return nil
	case protocol.TypeHandover:
		if m.Accept == nil {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "malformed hand-over answer")
		}
		// A late answer (the question lapsed or was withdrawn) changes nothing.
		if _, err := r.sessions.AnswerHandover(id, *m.Accept); err != nil {
			r.metrics.Dropped.WithLabelValues("customer", "no_handover").Inc()
		}
		return nil
	case protocol.TypeFile:
		if state != session.Live {
			r.metrics.Dropped.WithLabelValues("customer", "paused").Inc()
			return nil
		}
		r.assets.Deliver(id, m.ID, m.Type, m.Data)
		return nil
	default:
		r.metrics.Rejected.WithLabelValues("customer", "unknown_type").Inc()
		return closeWith(protocol.CloseMalformed, "unknown message type")
	}
}

// relayEvents filters a batch of the customer's events, rewrites their
// file references and sends them to the session's staff. size is the
// message's length, to size the output.
func (r *Relay) relayEvents(ctx context.Context, cs *customerSocket, state session.State, m *customerMessage, size int) error {
	id, filter, rewriter := cs.id, cs.filter, cs.rewriter
	if m.Events == nil {
		r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
		return closeWith(protocol.CloseMalformed, "malformed events")
	}
	if state != session.Live {
		// Paused means nothing flows, whatever the page sends.
		r.metrics.Dropped.WithLabelValues("customer", "paused").Inc()
		return nil
	}
	// Each event is read once for the filter and the rewriter, and its
	// data decoded at most once: the rewriter changes what the filter
	// made of it, never what the page sent.
	var st privacy.Stats
	evs := m.Events[:0]
	d := rrweb.Doc{Recycler: &r.recycler}
	defer d.Done()
	for _, raw := range m.Events {
		if !d.Reset(raw) {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "malformed events")
		}
		keep, err := filter.Event(&d, &st)
		if err != nil {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			if errors.Is(err, privacy.ErrTooLarge) {
				return closeWith(protocol.CloseTooLarge, "page too large to filter")
			}
			return closeWith(protocol.CloseMalformed, "malformed events")
		}
		if !keep {
			continue
		}
		err = rewriter.Event(&d)
		var ev json.RawMessage
		if err == nil {
			ev, err = d.Bytes()
		}
		if err != nil {
			r.metrics.Rejected.WithLabelValues("customer", "malformed").Inc()
			return closeWith(protocol.CloseMalformed, "malformed events")
		}
		evs = append(evs, ev)
	}
	r.countFilter(id, st)
	if len(evs) == 0 {
		return nil
	}
	room := cs.out[:0]
	var lent *bytes.Buffer
	if size+32 > maxKeptOut {
		// A page's snapshot: room from the relay's message buffers, which
		// every socket shares.
		lent = r.reads.get()
		lent.Grow(size + 32)
		room = lent.AvailableBuffer()
	}
	out := protocol.AppendStaffEvents(slices.Grow(room, size+32), r.now().UnixMilli(), m.CT, evs)
	r.metrics.toStaff.Inc()
	r.metrics.toStaffBytes.Add(float64(len(out)))
	r.publish(ctx, cs.toStaff, out)
	// The broker's subscribers keep copies of what they keep: the room is
	// free again, and most messages are written to the console before
	// publish returns, so most need no room of their own.
	switch {
	case lent != nil:
		r.reads.put(lent)
	case cap(out) <= maxKeptOut:
		cs.out = out[:0]
	}
	return nil
}

// countFilter records what the server filter did. Scrubs mean the SDK let
// something through: they are logged (counts only, never content).
func (r *Relay) countFilter(id string, st privacy.Stats) {
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
