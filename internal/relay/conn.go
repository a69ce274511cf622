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
	"github.com/tomoni-cobrowse/tomoni/internal/trywrite"
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
	// notify is called (under mu, so it must not take mu) whenever
	// something was queued; nil calls nothing.
	notify func()
}

func newOutQueue(maxItems int, maxBytes int64, notify func()) *outQueue {
	return &outQueue{maxItems: maxItems, maxBytes: maxBytes, notify: notify}
}

func (q *outQueue) signal() {
	if q.notify != nil {
		q.notify()
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

// next takes the first queued item, if there is one.
func (q *outQueue) next() (item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return item{}, false
	}
	it := q.items[0]
	q.items[0] = item{}
	q.items = q.items[1:]
	q.bytes -= int64(len(it.data))
	return it, true
}

// idle reports whether nothing is queued and the queue still takes items.
func (q *outQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0 && !q.final
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

// conn is one WebSocket: the goroutine that serves it reads. A message
// delivered while nothing is queued is written by the goroutine that
// delivers it, when the socket takes it without waiting; a writer goroutine
// runs only while something is queued or left unwritten, and a ping only
// until its pong. A node holds thousands of sockets, each mostly idle
// between messages, and every goroutine is a stack of memory (two idle
// writers were a tenth of a node's memory per session).
type conn struct {
	ws  *websocket.Conn
	q   *outQueue
	cfg Config
	// sock is the socket under ws, whose writes can be tried; nil when it
	// cannot be had (then everything goes through the queue).
	sock *trywrite.Conn
	// writeMu is held while a message is taken from the queue and written,
	// or written at once: it keeps messages in order and guards enc.
	writeMu sync.Mutex
	// onRTT hears each ping's round trip: the link's quality for the console.
	onRTT func(time.Duration)
	// The staff member of a console socket (0 for the customer's), set
	// under the relay's lock when attached.
	staffID    int64
	supervises bool
	session    string
	// id tells this socket apart from every other in the deployment; seq
	// is its place in the order this node's sockets were asked for, born
	// the wall-clock time of its request (Unix nanoseconds).
	id   string
	seq  uint64
	born int64
	// reads is the relay's pool of read buffers; a compressed message is
	// written from one too.
	reads *bufferPool
	// enc compresses what the socket sends, when its client speaks
	// protocol.StaffStream; nil otherwise.
	enc *streamdeflate.Encoder

	// The writer goroutine and the pings, which run sets up: wmu guards
	// the flags and the ping timer, and no goroutine is started once
	// closed is set, so that run can wait for all of them in wg.
	wmu       sync.Mutex
	wctx      context.Context // nil until run starts
	wcancel   context.CancelCauseFunc
	stuck     *time.Timer // closes the socket when a write takes too long
	writing   bool        // the writer goroutine runs
	again     bool        // something was queued while it ran
	closed    bool
	pingTimer *time.Timer
	pinging   atomic.Bool
	wg        sync.WaitGroup
}

// firstPing is when a socket is first pinged.
const firstPing = 2 * time.Second

func newConn(ws *websocket.Conn, cfg Config, reads *bufferPool) *conn {
	c := &conn{ws: ws, cfg: cfg, reads: reads}
	c.q = newOutQueue(cfg.QueueMessages, cfg.QueueBytes, c.wakeWriter)
	return c
}

// maxPooledRead is the largest read buffer kept for the next message.
const maxPooledRead = 64 << 10

// readMessage reads the next message into a buffer from the pool, which
// the caller gives back with release once it no longer uses the bytes.
func (c *conn) readMessage() (websocket.MessageType, *bytes.Buffer, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	buf := c.buffer()
	if _, err := buf.ReadFrom(r); err != nil {
		c.release(buf)
		return 0, nil, err
	}
	return typ, buf, nil
}

// maxSentNow is the largest message written at once by the goroutine that
// delivers it: what the socket does not take is copied to wait for the
// writer, and a large message is better left in the queue.
const maxSentNow = 32 << 10

// deliver writes msg at once if it can (see sendNow), and queues it
// otherwise. It never waits for the peer, and reports false when the
// queue is full.
func (c *conn) deliver(msg []byte) bool {
	if c.sendNow(msg) {
		return true
	}
	// The broker lends msg only for the call.
	return c.q.push(item{data: bytes.Clone(msg)})
}

// sendNow writes msg from the caller's goroutine when nothing is queued or
// being written and the socket can be written without waiting; what the
// kernel does not take at once is left to the writer goroutine. This
// spares the wake-up of the writer for each message, which at low load
// costs more than the write itself.
func (c *conn) sendNow(msg []byte) bool {
	if c.sock == nil || len(msg) > maxSentNow || !c.writeMu.TryLock() {
		return false
	}
	defer c.writeMu.Unlock()
	if !c.q.idle() || !c.sock.Try() {
		return false
	}
	err := c.send(msg, nil)
	c.sock.End()
	if err != nil {
		// The socket is broken: closing it ends its reader, which ends
		// the connection as a failed write by the writer would.
		c.ws.CloseNow()
		return true
	}
	if c.sock.Pending() {
		c.wakeWriter()
	}
	return true
}

// send writes one message, through the connection's compressed stream if
// it has one. With stuck, it closes the socket if the peer takes too long
// to read the message; without, the write must not wait (see sendNow).
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
	if stuck == nil {
		return c.ws.Write(context.Background(), typ, data)
	}
	stuck.Reset(c.cfg.WriteTimeout)
	err := c.ws.Write(context.Background(), typ, data)
	stuck.Stop()
	return err
}

func (c *conn) buffer() *bytes.Buffer { return c.reads.get() }

func (c *conn) release(buf *bytes.Buffer) { c.reads.put(buf) }

// bufferPool holds a relay's message buffers: one per message being read,
// compressed or written for the consoles, not one per socket (a socket's
// largest message would stay with it) nor a new one per message (garbage
// at every one).
type bufferPool struct{ sync.Pool }

func (p *bufferPool) get() *bytes.Buffer {
	buf, _ := p.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	return buf
}

// put gives buf back, unless it grew past maxPooledRead.
func (p *bufferPool) put(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledRead {
		p.Put(buf)
	}
}

// kick closes the connection from outside, after what is already queued.
func (c *conn) kick(code int, reason string) {
	c.q.appendFinal(item{code: websocket.StatusCode(code), reason: reason})
}

// run pumps until the peer goes, a final message is written, handle returns
// an error or ctx ends. handle is called for each incoming message in order.
// The caller's goroutine reads; others write only while there is something
// to write (see conn).
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
	// When the peer was last heard from (a message read, or handled): a
	// peer that sends is alive, even when its pong waits behind messages
	// this side has not read yet (a large page, a busy server).
	var lastRead atomic.Int64
	lastRead.Store(time.Now().UnixNano())
	stuck := time.AfterFunc(time.Hour, func() { c.ws.CloseNow() })
	stuck.Stop()

	c.wmu.Lock()
	c.wctx, c.wcancel, c.stuck = ctx, cancel, stuck
	// The first ping comes soon, so the console can show the link's
	// quality early; then one per interval.
	c.schedulePingLocked(min(firstPing, c.cfg.PingInterval), &lastRead)
	c.wmu.Unlock()
	// Anything queued before the connection ran.
	c.wakeWriter()

	cancel(c.read(ctx, handle, &lastRead))
	lastRead.Store(time.Now().UnixNano())
	c.wmu.Lock()
	c.closed = true
	c.pingTimer.Stop()
	c.wmu.Unlock()
	c.wg.Wait()
	stuck.Stop()
	c.ws.CloseNow()
	return context.Cause(ctx)
}

// wakeWriter makes the writer goroutine write what is queued: it starts
// it, or, when it runs, makes it look at the queue once more before it
// ends. Before run starts and after it ends, it does nothing.
func (c *conn) wakeWriter() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case c.writing:
		c.again = true
	case c.wctx != nil && !c.closed:
		c.writing = true
		c.wg.Go(c.writeLoop)
	}
}

// writeLoop writes what is queued until nothing more was queued meanwhile,
// or until the connection fails or a final item is written.
func (c *conn) writeLoop() {
	for {
		if err := c.writeQueued(c.stuck); err != nil {
			// A write that failed because the connection already ended
			// leaves its cause as it was: cancelling again changes nothing.
			c.wcancel(err)
			c.wmu.Lock()
			c.writing, c.closed = false, true
			c.wmu.Unlock()
			return
		}
		c.wmu.Lock()
		if !c.again {
			c.writing = false
			c.wmu.Unlock()
			return
		}
		c.again = false
		c.wmu.Unlock()
	}
}

// schedulePingLocked pings the peer after d, and then every interval.
func (c *conn) schedulePingLocked(d time.Duration, lastRead *atomic.Int64) {
	if c.closed {
		return
	}
	c.pingTimer = time.AfterFunc(d, func() {
		c.wmu.Lock()
		if c.closed {
			c.wmu.Unlock()
			return
		}
		c.wg.Add(1)
		c.schedulePingLocked(c.cfg.PingInterval, lastRead)
		c.wmu.Unlock()
		defer c.wg.Done()
		// A ping still waiting for its pong is not doubled.
		if c.pinging.CompareAndSwap(false, true) {
			c.ping(lastRead)
		}
	})
}

// ping sends a ping and waits for its pong, which tells the console the
// link's round trip; a peer that neither answers nor sends is gone.
func (c *conn) ping(lastRead *atomic.Int64) {
	defer c.pinging.Store(false)
	ctx, cancel := c.wctx, c.wcancel
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

// read hands each message to handle until the socket fails or handle
// returns an error.
func (c *conn) read(ctx context.Context, handle func(ctx context.Context, data []byte) error, lastRead *atomic.Int64) error {
	for {
		typ, buf, err := c.readMessage()
		if err != nil {
			return err
		}
		// While a message is handled nothing is read, so no pong can be:
		// the peer counts as heard from until the handler is done.
		lastRead.Store(math.MaxInt64)
		if typ != websocket.MessageText {
			c.release(buf)
			c.ws.Close(websocket.StatusUnsupportedData, "text messages only")
			return errors.New("binary message")
		}
		// handle keeps nothing of data: what it relays, it copies.
		err = handle(ctx, buf.Bytes())
		c.release(buf)
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

// writeQueued writes what an earlier sendNow left and then everything
// queued, holding writeMu so that no message is written at once meanwhile.
func (c *conn) writeQueued(stuck *time.Timer) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.sock != nil && c.sock.Pending() {
		stuck.Reset(c.cfg.WriteTimeout)
		err := c.sock.Flush()
		stuck.Stop()
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	for {
		it, ok := c.q.next()
		if !ok {
			return nil
		}
		if len(it.data) > 0 {
			if err := c.send(it.data, stuck); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		if it.final {
			c.ws.Close(it.code, it.reason)
			return errFinal
		}
	}
}
