package trywrite

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"
)

// pair returns a *Conn over a loopback TCP connection and its peer.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- nc
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	c := New(nc)
	t.Cleanup(func() { c.Close(); peer.Close() })
	if c.raw == nil {
		t.Skipf("writes cannot be tried on %s", runtime.GOOS)
	}
	return c, peer
}

// readAll reads from peer in the background until it has want bytes.
func readAll(peer net.Conn, want int) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, want)
		n, _ := io.ReadFull(peer, buf)
		got <- buf[:n]
	}()
	return got
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%251)
	}
	return b
}

// A span never waits for a peer that does not read: what the kernel does
// not take is kept, and nothing more is tried until it is flushed; then
// the peer gets every byte in order.
func TestSpanNeverWaitsAndFlushKeepsOrder(t *testing.T) {
	c, peer := pair(t)
	var sent bytes.Buffer
	chunk := 256 << 10
	tried := 0
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("the socket took 256 MB without a reader")
		}
		if !c.Try() {
			break
		}
		tried++
		p := pattern(chunk, byte(i))
		done := make(chan struct{})
		go func() {
			defer close(done)
			if n, err := c.Write(p); err != nil || n != len(p) {
				t.Errorf("write in a span: %d, %v", n, err)
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a write in a span waited for the peer")
		}
		c.End()
		sent.Write(p)
	}
	if !c.Pending() {
		t.Fatal("Try refused with nothing pending")
	}
	if tried < 1 {
		t.Fatal("not even one span was opened")
	}
	// A write outside a span goes after what is pending.
	tail := pattern(1000, 7)
	sent.Write(tail)
	got := readAll(peer, sent.Len())
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if c.Pending() {
		t.Fatal("bytes pending after Flush")
	}
	if _, err := c.Write(tail); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, sent.Bytes()) {
		t.Fatalf("peer got %d bytes, not the %d written in order", len(b), sent.Len())
	}
	if !c.Try() {
		t.Fatal("no span after everything was flushed")
	}
	c.End()
}

// While a write that may wait is under way, no span opens: a write in the
// span would queue behind it.
func TestNoSpanBesideAWriteThatWaits(t *testing.T) {
	c, peer := pair(t)
	big := pattern(64<<20, 3)
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := c.Write(big); err != nil {
			t.Errorf("write: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for c.waiting.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the write never started")
		}
		time.Sleep(time.Millisecond)
	}
	if c.Try() {
		t.Fatal("a span opened while a write waits for the peer")
	}
	got := readAll(peer, len(big))
	wg.Wait()
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatal("peer did not get the write")
	}
	if !c.Try() {
		t.Fatal("no span once the write was done")
	}
	c.End()
}

// A connection whose writes cannot be tried (here an in-memory pipe, as a
// TLS connection) opens no span and writes as it always did.
func TestUntriableConnectionWritesPlainly(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := New(a)
	if c.Try() {
		t.Fatal("a span opened on a pipe")
	}
	got := readAll(b, 5)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if string(<-got) != "hello" {
		t.Fatal("write lost")
	}
}

// Whoever hijacks through ResponseWriter writes through a *Conn, and the
// bytes reach the client.
func TestHijackHandsOverTheConn(t *testing.T) {
	var (
		mu  sync.Mutex
		got *Conn
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &ResponseWriter{ResponseWriter: w}
		nc, brw, err := rw.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer nc.Close()
		mu.Lock()
		got = rw.Conn
		mu.Unlock()
		if nc != net.Conn(rw.Conn) {
			t.Error("Hijack did not return the *Conn")
		}
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		brw.Flush()
	}))
	defer srv.Close()
	nc, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if got == nil || got.raw == nil {
		t.Fatal("the hijacked TCP connection cannot be tried")
	}
}

// A try that the kernel takes whole allocates nothing: it runs once for
// every message a relay writes.
func TestTryAllocatesNothing(t *testing.T) {
	c, _ := pair(t)
	msg := pattern(200, 1)
	allocs := testing.AllocsPerRun(200, func() {
		if !c.Try() {
			t.Fatal("no span")
		}
		c.Write(msg)
		c.End()
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per try", allocs)
	}
}
