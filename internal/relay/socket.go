package relay

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/streamdeflate"
	"github.com/tomoni-cobrowse/tomoni/internal/trywrite"
)

// side is what differs between the customer's socket and a staff socket;
// serve runs the rest the same way for both.
type side struct {
	role      string // "customer" or "staff": metrics and logs
	customer  bool   // which presence flag of the session this socket sets
	stream    bool   // may speak protocol.StaffStream
	readLimit int64
	rate      float64
	burst     int
	// byteRate and byteBurst bound the bytes read per second (inflated:
	// the read limit and this count what a message decompresses to).
	byteRate  float64
	byteBurst int
	inbox     string // broker subject this socket receives
	// attach registers c on this node; the detach it returns reports
	// whether c was the role's last socket of the session here.
	attach func(c *conn) (detach func() (last bool))
	// overflow is called when c's queue is full for a delivery.
	overflow func(c *conn)
	// control hears the relay's own messages between nodes on the inbox
	// (never passed to the socket).
	control func(c *conn, msg []byte)
	// opened runs once the socket is attached and the current state queued.
	opened func(ctx context.Context, c *conn, cur session.Session)
	// rtt hears the round trip of each ping on c.
	rtt    func(c *conn, d time.Duration)
	handle func(ctx context.Context, data []byte) error
}

func acceptOptions(req *http.Request, stream bool) *websocket.AcceptOptions {
	opts := &websocket.AcceptOptions{
		// The server checks Origin against the configured allow-list before
		// calling the relay, with scheme and port, which the library's
		// host-only patterns cannot express.
		InsecureSkipVerify: true,
		// No context takeover keeps per-connection compressor memory flat.
		CompressionMode: websocket.CompressionNoContextTakeover,
	}
	if stream && offers(req, protocol.StaffStream) {
		opts.Subprotocols = []string{protocol.StaffStream}
		// What goes out is compressed already.
		opts.CompressionMode = websocket.CompressionDisabled
	}
	return opts
}

// offers reports whether the client lists subprotocol p.
func offers(req *http.Request, p string) bool {
	for _, h := range req.Header.Values("Sec-WebSocket-Protocol") {
		for v := range strings.SplitSeq(h, ",") {
			if strings.TrimSpace(v) == p {
				return true
			}
		}
	}
	return false
}

// maxByteWait is the longest a socket over its byte budget is left unread
// before it is closed instead.
const maxByteWait = 10 * time.Second

// serve upgrades the request and pumps the socket until the peer goes, the
// session ends, the relay shuts down or the peer breaks a rule.
func (r *Relay) serve(w http.ResponseWriter, req *http.Request, s session.Session, sd side) {
	// A socket's place among the others is when it was asked for, not
	// when its setup got as far as attaching: a page that reloads at once
	// asks again before its last socket may have been attached.
	seq, born := r.nextConn.Add(1), time.Now().UnixNano()
	tw := &trywrite.ResponseWriter{ResponseWriter: w}
	ws, err := websocket.Accept(tw, req, acceptOptions(req, sd.stream))
	if err != nil {
		r.log.Info("socket accept failed", "role", sd.role, "session", s.ID, "err", err)
		return
	}
	ws.SetReadLimit(sd.readLimit)
	c := newConn(ws, r.cfg, &r.reads)
	c.sock = tw.Conn
	if ws.Subprotocol() == protocol.StaffStream {
		c.enc = new(streamdeflate.Encoder)
	}
	if sd.stream {
		frames := "text"
		if c.enc != nil {
			frames = "stream"
		}
		r.metrics.Consoles.WithLabelValues(frames).Inc()
	}
	if sd.rtt != nil {
		c.onRTT = func(d time.Duration) { sd.rtt(c, d) }
	}

	if r.beforeAttach != nil {
		r.beforeAttach(req)
	}
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		ws.Close(protocol.CloseServerShutdown, "server shutting down")
		return
	}
	c.seq, c.born = seq, born
	c.id = r.node + "-" + strconv.FormatUint(c.seq, 36)
	detach := sd.attach(c)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		last := detach()
		r.checkDrainedLocked()
		r.mu.Unlock()
		if last {
			r.departures.add(s.ID, sd.customer)
		}
	}()

	sub, err := r.broker.Subscribe(sd.inbox, func(msg []byte) {
		if isControl(msg) {
			if sd.control != nil {
				sd.control(c, msg)
			}
			return
		}
		if ended, reason := isEnded(msg); ended {
			c.q.appendFinal(item{data: bytes.Clone(msg), code: protocol.CloseSessionEnded, reason: reason})
			return
		}
		if !c.deliver(msg) {
			sd.overflow(c)
		}
	})
	if err != nil {
		r.log.Warn("broker subscribe failed", "role", sd.role, "session", s.ID, "err", err)
		ws.Close(protocol.CloseServerShutdown, "relay unavailable")
		return
	}
	defer sub.Unsubscribe()

	r.metrics.Connections.WithLabelValues(sd.role).Inc()
	defer r.metrics.Connections.WithLabelValues(sd.role).Dec()
	r.sessions.SetConnected(s.ID, sd.customer, true)

	cur, err := r.sessions.Get(s.ID)
	if err != nil || cur.State == session.Ended {
		c.q.appendFinal(item{data: stateMessage(cur, !sd.customer), code: protocol.CloseSessionEnded, reason: cur.Reason})
	} else {
		c.q.push(item{data: stateMessage(cur, !sd.customer)})
		sd.opened(req.Context(), c, cur)
	}

	pace := ratelimit.NewPace(sd.rate, sd.burst, sd.byteRate, sd.byteBurst, r.now)
	err = c.run(req.Context(), func(ctx context.Context, data []byte) error {
		if !pace.Message() {
			r.metrics.Rejected.WithLabelValues(sd.role, "rate").Inc()
			return closeWith(protocol.CloseRateLimited, "message rate above the limit")
		}
		if err := sd.handle(ctx, data); err != nil {
			return err
		}
		// Past its byte budget a socket is not read again until the budget
		// has refilled: the sender is slowed by TCP's own back-pressure
		// and every other session keeps its share of the machine. A sender
		// that would have to wait longer than maxByteWait is refused.
		wait, ok := pace.Bytes(len(data), maxByteWait)
		if !ok {
			r.metrics.Rejected.WithLabelValues(sd.role, "bytes").Inc()
			return closeWith(protocol.CloseRateLimited, "bytes per second above the limit")
		}
		if wait > 0 {
			r.metrics.Throttled.WithLabelValues(sd.role).Inc()
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	r.log.Debug("socket closed", "role", sd.role, "session", s.ID, "err", err)
}
