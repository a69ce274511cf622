// Package trywrite gives a server's hijacked connection writes that can be
// made not to wait.
//
// A relay that hands every message to a writer goroutine pays for waking
// that goroutine on each message; at low load that wake-up costs more than
// the write. Writing from the goroutine that has the message is cheap, but
// only safe when the write cannot block: a peer that stops reading must
// never hold up the sender (a slow console must not slow the customer).
// Conn lets a caller open a span in which every write takes what the
// kernel accepts at once and keeps the rest, to be flushed later by a
// goroutine that may wait.
package trywrite

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
)

// Conn is a net.Conn whose writes can be tried. Outside a span (see Try)
// it writes as the connection it wraps does, after anything a span left.
type Conn struct {
	net.Conn
	raw syscall.RawConn // nil: writes cannot be tried on this connection

	// mu is held by whoever writes to the socket, and guards pending.
	mu      sync.Mutex
	pending []byte
	// left mirrors len(pending) != 0 for readers that must not take mu.
	left atomic.Bool
	// trying is set for a span; waiting counts writes under way that may
	// wait. Try sets the first and then reads the second, while a write
	// raises the second and then reads the first: with sequentially
	// consistent atomics at least one of them sees the other, so no write
	// that may wait overlaps a span.
	trying  atomic.Bool
	waiting atomic.Int32

	// What one try writes and what came of it, under mu: the function
	// handed to raw.Write is made once, not a closure per write.
	try    func(fd uintptr) bool
	tryBuf []byte
	tryN   int
	tryErr error
}

// New wraps nc. Writes are tried only where the platform and the
// connection allow it (a plain TCP socket on a Unix system); elsewhere Try
// always reports false.
func New(nc net.Conn) *Conn {
	c := &Conn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok && canTry {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.try = c.tryFD
		}
	}
	return c
}

// Try opens a span: until End, every write returns at once, and what the
// kernel did not take is kept for Flush. It reports false, opening
// nothing, when writes cannot be tried, when a write that may wait is
// under way, or when bytes of an earlier span still wait.
func (c *Conn) Try() bool {
	if c.raw == nil || c.left.Load() {
		return false
	}
	c.trying.Store(true)
	if c.waiting.Load() != 0 {
		c.trying.Store(false)
		return false
	}
	return true
}

// End closes the span Try opened.
func (c *Conn) End() { c.trying.Store(false) }

// Pending reports whether bytes a span could not write wait for Flush.
func (c *Conn) Pending() bool { return c.left.Load() }

// Flush writes what spans left, waiting as long as the peer takes. It must
// not be called while a span is open (the caller serialises the two): a
// span's writes would wait behind it.
func (c *Conn) Flush() error {
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *Conn) flushLocked() error {
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.pending)
	c.pending = c.pending[:0]
	if cap(c.pending) > maxKept {
		c.pending = nil
	}
	c.left.Store(false)
	if err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// maxKept is the largest pending buffer kept for the next span.
const maxKept = 64 << 10

// Write writes p. In a span it never waits; otherwise it first writes what
// spans left, so bytes go out in the order they were written.
func (c *Conn) Write(p []byte) (int, error) {
	c.waiting.Add(1)
	if c.trying.Load() {
		c.waiting.Add(-1)
		return c.tryWrite(p)
	}
	defer c.waiting.Add(-1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// tryWrite writes what the kernel takes now and keeps the rest. In a span
// no write that may wait holds mu, so taking it does not wait long.
func (c *Conn) tryWrite(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		c.pending = append(c.pending, p...)
		return len(p), nil
	}
	n, err := c.writeNow(p)
	if err != nil {
		return n, err
	}
	if n < len(p) {
		c.pending = append(c.pending, p[n:]...)
		c.left.Store(true)
	}
	return len(p), nil
}

// writeNow writes what the socket's buffer takes without waiting; a full
// buffer is not an error, it takes nothing. mu is held.
func (c *Conn) writeNow(p []byte) (int, error) {
	c.tryBuf, c.tryN, c.tryErr = p, 0, nil
	err := c.raw.Write(c.try)
	n, werr := c.tryN, c.tryErr
	c.tryBuf, c.tryErr = nil, nil
	if err != nil {
		return n, err
	}
	return n, werr
}

// ResponseWriter hands a *Conn to whoever hijacks the connection (a
// WebSocket library's Accept).
type ResponseWriter struct {
	http.ResponseWriter
	// Conn is set by Hijack.
	Conn *Conn
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *ResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes over the connection as http.Hijacker does; what is then
// written through the returned ReadWriter goes through the *Conn.
func (w *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Writer.Buffered() != 0 {
		// net/http hands over an empty writer; if one ever were not, its
		// bytes must go first and untouched.
		return nc, brw, nil
	}
	w.Conn = New(nc)
	brw.Writer.Reset(w.Conn)
	return w.Conn, brw, nil
}
