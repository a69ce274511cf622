package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/streamdeflate"
)

// wireCount counts the bytes a client reads off its socket.
type wireCount struct {
	net.Conn
	n *atomic.Int64
}

func (c wireCount) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// dialStream opens a console socket that offers the compressed stream, as
// a browser with DecompressionStream does, and counts what it reads.
func dialStream(t testing.TB, f *fixture, wire *atomic.Int64) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wireCount{c, wire}, nil
	}}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/staff?id="+f.sess.ID, &websocket.DialOptions{
		HTTPClient: client, Subprotocols: []string{protocol.StaffStream}, CompressionMode: websocket.CompressionContextTakeover,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.CloseNow() })
	if c.Subprotocol() != protocol.StaffStream {
		t.Fatalf("the server chose subprotocol %q", c.Subprotocol())
	}
	return c
}

// readStream reads the next message of the stream: a binary frame that
// inflates, after the ones before it, to one JSON message.
func readStream(t *testing.T, c *websocket.Conn, r *streamdeflate.Reader) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		t.Fatalf("a %v frame on the compressed stream: %.80q", typ, b)
	}
	text, err := r.Next(b)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(text, &m); err != nil {
		t.Fatalf("inflated to %.80q, not JSON: %v", text, err)
	}
	return m, nil
}

// A console that can inflate a stream hears everything it would have in
// text, in order, for under half of the bytes on the wire; the session's
// end reaches it through the stream too.
func TestConsoleOfferingTheStreamGetsEveryMessageCompressed(t *testing.T) {
	// 200 messages at once: more than a page's burst is allowed.
	f := newFixture(t, Config{CustomerRate: 1000, CustomerBurst: 1000})
	var wire atomic.Int64
	st := dialStream(t, f, &wire)
	var r streamdeflate.Reader
	if m, err := readStream(t, st, &r); err != nil || m["t"] != "state" {
		t.Fatalf("first message %v, %v; want the state", m, err)
	}
	if n := testutil.ToFloat64(f.relay.metrics.Consoles.WithLabelValues("stream")); n != 1 {
		t.Fatalf("console sockets on the stream counted %v, want 1", n)
	}
	cu := f.customer()
	readType(t, cu, "state")
	// Mouse moves, as a customer reading a page makes them: short
	// messages that repeat each other's shape.
	const n = 200
	before := wire.Load()
	raw := 0
	for i := range n {
		ev := fmt.Sprintf(`{"type":3,"timestamp":%d,"data":{"source":1,"positions":[{"x":%d,"y":%d,"id":%d,"timeOffset":-%d}]}}`, 1795962649000+int64(i)*100, 300+i, 200+i%7, 40+i%3, i%90)
		send(t, cu, `{"t":"events","seq":`+fmt.Sprint(i+1)+`,"ct":1795962649000,"events":[`+ev+`]}`)
	}
	for i := 0; i < n; {
		m, err := readStream(t, st, &r)
		if err != nil {
			t.Fatalf("after %d of %d events messages: %v", i, n, err)
		}
		if m["t"] != "events" {
			continue
		}
		evs := m["events"].([]any)
		pos := evs[0].(map[string]any)["data"].(map[string]any)["positions"].([]any)[0].(map[string]any)
		if int(pos["x"].(float64)) != 300+i {
			t.Fatalf("events message %d holds x=%v: out of order or lost", i, pos["x"])
		}
		b, _ := json.Marshal(m)
		raw += len(b)
		i++
	}
	got := float64(wire.Load()-before) / float64(raw)
	t.Logf("%d events messages, %d bytes of text: %.3f of it on the wire", n, raw, got)
	if got > 0.45 {
		t.Fatalf("%d events messages took %.2f of their text's bytes on the wire, want ≤ 0.45", n, got)
	}
	send(t, cu, `{"t":"end"}`)
	for {
		m, err := readStream(t, st, &r)
		if err != nil {
			if code := websocket.CloseStatus(err); code != protocol.CloseSessionEnded {
				t.Fatalf("closed with %d (%v), want %d", code, err, protocol.CloseSessionEnded)
			}
			break
		}
		if m["t"] == "state" && m["state"] == "live" && m["connected"] == false {
			t.Fatalf("the customer's socket went instead of the session: %v", m)
		}
	}
}

// A console that does not offer the stream (an older browser, a tool)
// gets plain text frames.
func TestConsoleWithoutTheStreamGetsText(t *testing.T) {
	f := newFixture(t, Config{})
	st := f.staff()
	if st.Subprotocol() != "" {
		t.Fatalf("subprotocol %q chosen though none was offered", st.Subprotocol())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := st.Read(ctx)
	if err != nil || typ != websocket.MessageText || !strings.Contains(string(b), `"t":"state"`) {
		t.Fatalf("first frame %v %q %v; want the state as text", typ, b, err)
	}
	// Operators can tell consoles that do not get the stream (a proxy that
	// drops the subprotocol header) from the rest.
	if n := testutil.ToFloat64(f.relay.metrics.Consoles.WithLabelValues("text")); n != 1 {
		t.Fatalf("console sockets on text counted %v, want 1", n)
	}
}

// The customer's socket never speaks the stream, whatever it offers.
func TestCustomerSocketIgnoresTheStream(t *testing.T) {
	f := newFixture(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/customer?token="+f.token, &websocket.DialOptions{Subprotocols: []string{protocol.StaffStream}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != "" {
		t.Fatalf("customer socket chose %q", c.Subprotocol())
	}
	if typ, _, err := c.Read(ctx); err != nil || typ != websocket.MessageText {
		t.Fatalf("first frame %v, %v; want text", typ, err)
	}
}
