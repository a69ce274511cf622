package relay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/trywrite"
)

// A message written at once that the socket could take only in part is
// finished by the writer goroutine straight away, not when the next message
// or ping comes: here nothing else is sent and the next ping is a minute
// off, yet the console gets every message in order once it reads again.
func TestMessageTheSocketTookInPartIsFinished(t *testing.T) {
	cfg := withDefaults(Config{PingInterval: time.Minute, WriteTimeout: time.Minute, QueueMessages: 1 << 16, QueueBytes: 1 << 30})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reads bufferPool
	conns := make(chan *conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trywrite.ResponseWriter{ResponseWriter: w}
		ws, err := websocket.Accept(tw, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		c := newConn(ws, cfg, &reads)
		c.sock = tw.Conn
		conns <- c
		c.run(ctx, func(context.Context, []byte) error { return nil })
	}))
	defer srv.Close()
	console, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		t.Fatal(err)
	}
	defer console.CloseNow()
	console.SetReadLimit(1 << 20)
	c := <-conns
	// The first ping goes out two seconds after the socket opens; the test
	// starts after it, so that nothing but the writer can be what finishes
	// the message.
	time.Sleep(firstPing + 500*time.Millisecond)

	pad := strings.Repeat("x", 20<<10)
	last := -1
	for i := 0; i < 4096; i++ {
		if !c.deliver(fmt.Appendf(nil, `{"seq":%d,"pad":"%s"}`, i, pad)) {
			t.Fatalf("message %d refused", i)
		}
		if c.sock.Pending() {
			last = i
			break
		}
	}
	if last < 0 {
		t.Fatal("80 MB went out to a console that reads nothing: the socket never filled")
	}

	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	defer rcancel()
	for i := 0; i <= last; i++ {
		_, b, err := console.Read(rctx)
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, last+1, err)
		}
		if want := fmt.Sprintf(`{"seq":%d,`, i); !strings.HasPrefix(string(b), want) || len(b) != len(want)+len(pad)+9 {
			t.Fatalf("message %d reads %.40q (%d B)", i, b, len(b))
		}
	}
}

// serveOne runs one conn with cfg for the first client of a test server,
// with prepare applied before it runs, and dials it; ended hears what run
// returned.
func serveOne(t *testing.T, ctx context.Context, cfg Config, prepare func(*conn)) (peer *websocket.Conn, ended <-chan error) {
	t.Helper()
	var reads bufferPool
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		c := newConn(ws, cfg, &reads)
		prepare(c)
		done <- c.run(ctx, func(context.Context, []byte) error { return nil })
	}))
	t.Cleanup(srv.Close)
	peer, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.CloseNow() })
	return peer, done
}

// A peer that has gone silent (it neither reads, so it never answers a
// ping, nor sends) is let go once a ping has waited WriteTimeout, also when
// nothing is written to it: its socket must not be held for ever.
func TestSilentPeerIsLetGo(t *testing.T) {
	cfg := withDefaults(Config{PingInterval: 100 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, ended := serveOne(t, ctx, cfg, func(*conn) {})
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(err.Error(), "ping") {
			t.Fatalf("the connection ended with %v, not for want of a pong", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a peer that answers no ping is still connected after 10 s")
	}
}

// A peer that answers pings stays, with no message either way, and hears a
// ping each interval: the console's link badge stays fresh on a still page.
func TestQuietPeerIsPingedEachInterval(t *testing.T) {
	cfg := withDefaults(Config{PingInterval: 100 * time.Millisecond, WriteTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rtts atomic.Int32
	peer, ended := serveOne(t, ctx, cfg, func(c *conn) { c.onRTT = func(time.Duration) { rtts.Add(1) } })
	// Reading answers pings; nothing is ever sent.
	peerCtx := peer.CloseRead(ctx)
	// Five pings, and then some: at least 1.2 s, at most 10 s on a machine
	// that is busy with other tests.
	start := time.Now()
	for rtts.Load() < 5 || time.Since(start) < 1200*time.Millisecond {
		select {
		case err := <-ended:
			t.Fatalf("a peer that answers pings was let go: %v", err)
		case <-peerCtx.Done():
			t.Fatal("the server closed the socket of a peer that answers pings")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d round trips heard in 10 s of 100 ms pings", rtts.Load())
		}
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not end with its context")
	}
}
