package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/streamdeflate"
)

// item is one outgoing message. A final item closes the connection with
// code and reason once written.
type item struct {
	data   []byte
	final  bool
	code   websocket.StatusCode
	reason string
}

// outQueue is a bounded FIFO of outgoing messages. Producers never block:
// push reports false when the queue is full and the caller decides what to
// drop.
type outQueue struct {
	mu       sync.Mutex
	items    []item
	bytes    int64
	maxItems int
	maxBytes int64
	final    bool // a final item is queued: accept nothing more
	wake     chan struct{}
}

func newOutQueue(maxItems int, maxBytes int64) *outQueue {
	return &outQueue{maxItems: maxItems, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

func (q *outQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// push appends it unless that would exceed a bound.
func (q *outQueue) push(it item) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.final {
		return true // closing: quietly discard
	}
	// A message larger than the whole byte bound (a large page's snapshot)
	// still goes into a queue that holds little else, or it could never be
	// sent; the queue then holds at most an eighth of the bound plus it.
	huge := int64(len(it.data)) > q.maxBytes && q.bytes <= q.maxBytes/8
	if len(q.items) >= q.maxItems || (q.bytes+int64(len(it.data)) > q.maxBytes && !huge) {
		return false
	}
	q.items = append(q.items, it)
	q.bytes += int64(len(it.data))
	q.signal()
	return true
}

// replace drops everything queued and queues it instead.
func (q *outQueue) replace(it item) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.final {
		return
	}
	clear(q.items)
	q.items = append(q.items[:0], it)
	q.bytes = int64(len(it.data))
	q.final = it.final
	q.signal()
}

// appendFinal queues a closing item after what is queued, dropping the
// queue if there is no room: the end of a session must always get through.
func (q *outQueue) appendFinal(it item) {
	it.final = true
	q.mu.Lock()
	if q.final {
		q.mu.Unlock()
		return
	}
	if len(q.items) >= q.maxItems {
		q.mu.Unlock()
		q.replace(it)
		return
	}
	q.items = append(q.items, it)
	q.bytes += int64(len(it.data))
	q.final = true
	q.signal()
	q.mu.Unlock()
}

// pop waits for the next item, or until tick fires (then ticked is true).
func (q *outQueue) pop(ctx context.Context, tick <-chan time.Time) (it item, ticked bool, err error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = item{}
			q.items = q.items[1:]
			q.bytes -= int64(len(it.data))
			q.mu.Unlock()
			return it, false, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return item{}, false, ctx.Err()
		case <-tick:
			return item{}, true, nil
		case <-q.wake:
		}
	}
}

func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// closeError asks the connection to close with a code the client can act on.
type closeError struct {
	code   websocket.StatusCode
	reason string
}

func (e *closeError) Error() string { return fmt.Sprintf("close %d: %s", e.code, e.reason) }

func closeWith(code int, reason string) error {
	return &closeError{code: websocket.StatusCode(code), reason: reason}
}

// errFinal ends the pumps after a final message was written.
var errFinal = errors.New("final message sent")

// conn is one WebSocket: the goroutine that serves it reads, one more
// writes (and starts a ping, in a goroutine that lives until its pong).
type conn struct {
	ws  *websocket.Conn
	q   *outQueue
	cfg Config
	// onRTT hears each ping's round trip: the link's quality for the console.
	onRTT func(time.Duration)
	// The staff member of a console socket (0 for the customer's), set
	// under the relay's lock when attached.
	staffID    int64
	supervises bool
	session    string
	// id tells this socket apart from every other in the deployment.
	id string
	// reads is the relay's pool of read buffers; a compressed message is
	// written from one too.
	reads *sync.Pool
	// enc compresses what the socket sends, when its client speaks
	// protocol.StaffStream; nil otherwise.
	enc *streamdeflate.Encoder
}

// firstPing is when a socket is first pinged.
const firstPing = 2 * time.Second

func newConn(ws *websocket.Conn, cfg Config, reads *sync.Pool) *conn {
	return &conn{ws: ws, q: newOutQueue(cfg.QueueMessages, cfg.QueueBytes), cfg: cfg, reads: reads}
}

// maxPooledRead is the largest read buffer kept for the next message.
const maxPooledRead = 64 << 10

// readMessage reads the next message into a buffer from the pool; done
// gives it back, after which the message's bytes must not be used.
func (c *conn) readMessage() (websocket.MessageType, []byte, func(), error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return 0, nil, nil, err
	}
	buf := c.buffer()
	done := func() { c.release(buf) }
	if _, err := buf.ReadFrom(r); err != nil {
		done()
		return 0, nil, nil, err
	}
	return typ, buf.Bytes(), done, nil
}

// send writes one message, through the connection's compressed stream if
// it has one, and closes the socket if the peer takes too long to read it.
func (c *conn) send(msg []byte, stuck *time.Timer) error {
	typ, data := websocket.MessageText, msg
	if c.enc != nil {
		buf := c.buffer()
		defer c.release(buf)
		// Fixed-Huffman deflate is at most 9 bits per byte plus a few bytes
		// a message: with this much room the buffer is not outgrown.
		buf.Grow(len(msg) + len(msg)/8 + 16)
		out, err := c.enc.Encode(buf.AvailableBuffer(), msg)
		if err != nil {
			return fmt.Errorf("compress: %w", err)
		}
		typ, data = websocket.MessageBinary, out
	}
	stuck.Reset(c.cfg.WriteTimeout)
	err := c.ws.Write(context.Background(), typ, data)
	stuck.Stop()
	return err
}

func (c *conn) buffer() *bytes.Buffer {
	buf, _ := c.reads.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	return buf
}

func (c *conn) release(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledRead {
		c.reads.Put(buf)
	}
}

// kick closes the connection from outside, after what is already queued.
func (c *conn) kick(code int, reason string) {
	c.q.appendFinal(item{code: websocket.StatusCode(code), reason: reason})
}

// run pumps until the peer goes, a final message is written, handle returns
// an error or ctx ends. handle is called for each incoming message in order.
// The caller's goroutine reads; one more writes: a node holds thousands of
// sockets, and every goroutine is a stack of memory.
func (c *conn) run(parent context.Context, handle func(ctx context.Context, data []byte) error) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	// Reads and writes run without a context of their own: the library
	// would register a callback on it for every message. The socket is
	// closed once instead when ctx ends, which ends a blocked read or
	// write, and a write that takes too long closes it through a timer
	// made once per connection.
	stop := context.AfterFunc(ctx, func() { c.ws.CloseNow() })
	defer stop()
	stuck := time.AfterFunc(time.Hour, func() { c.ws.CloseNow() })
	stuck.Stop()
	defer stuck.Stop()
	// When the peer was last heard from (a message read, or handled): a
	// peer that sends is alive, even when its pong waits behind messages
	// this side has not read yet (a large page, a busy server).
	var lastRead atomic.Int64
	lastRead.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	// The writer also starts the pings: a goroutine of their own lives
	// only while a ping waits for its pong, not for the whole connection.
	var pinging atomic.Bool
	ping := func() {
		defer pinging.Store(false)
		pctx, pcancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
		start := time.Now()
		err := c.ws.Ping(pctx)
		pcancel()
		if err != nil && ctx.Err() == nil && time.Since(time.Unix(0, lastRead.Load())) < c.cfg.WriteTimeout {
			return // the peer is sending; its pong is behind what is still to be read
		}
		if err != nil {
			cancel(fmt.Errorf("ping: %w", err))
			return
		}
		if c.onRTT != nil {
			c.onRTT(time.Since(start))
		}
	}
	wg.Go(func() {
		if err := c.write(ctx, func() {
			if pinging.CompareAndSwap(false, true) {
				wg.Go(ping)
			}
		}, stuck); err != nil {
			cancel(err)
		}
	})
	cancel(c.read(ctx, handle, &lastRead))
	lastRead.Store(time.Now().UnixNano())
	wg.Wait()
	c.ws.CloseNow()
	return context.Cause(ctx)
}

// read hands each message to handle until the socket fails or handle
// returns an error.
func (c *conn) read(ctx context.Context, handle func(ctx context.Context, data []byte) error, lastRead *atomic.Int64) error {
	for {
		typ, data, done, err := c.readMessage()
		if err != nil {
			return err
		}
		// While a message is handled nothing is read, so no pong can be:
		// the peer counts as heard from until the handler is done.
		lastRead.Store(math.MaxInt64)
		if typ != websocket.MessageText {
			done()
			c.ws.Close(websocket.StatusUnsupportedData, "text messages only")
			return errors.New("binary message")
		}
		// handle keeps nothing of data: what it relays, it copies.
		err = handle(ctx, data)
		done()
		lastRead.Store(time.Now().UnixNano())
		if err != nil {
			var ce *closeError
			if errors.As(err, &ce) {
				c.ws.Close(ce.code, ce.reason)
			}
			return err
		}
	}
}

// write sends what is queued until ctx ends or a final item is written,
// and calls ping on each ping interval.
func (c *conn) write(ctx context.Context, ping func(), stuck *time.Timer) error {
	// The first ping comes soon, so the console can show the link's
	// quality early; then one per interval.
	t := time.NewTimer(min(firstPing, c.cfg.PingInterval))
	defer t.Stop()
	for {
		it, ticked, err := c.q.pop(ctx, t.C)
		if err != nil {
			return err
		}
		if ticked {
			t.Reset(c.cfg.PingInterval)
			ping()
			continue
		}
		if len(it.data) > 0 {
			err = c.send(it.data, stuck)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("write: %w", err)
			}
		}
		if it.final {
			c.ws.Close(it.code, it.reason)
			return errFinal
		}
	}
}
