package relay

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tomoni-cobrowse/tomoni/internal/assets"
	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/privacy"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
)

type fixture struct {
	t        testing.TB
	relay    *Relay
	sessions *session.Manager
	broker   *broker.Memory
	srv      *httptest.Server
	sess     session.Session
	token    string
}

// newFixture starts a relay behind a test server with one joined session.
func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	f := &fixture{t: t, broker: broker.NewMemory()}
	f.sessions = mustManager(t)
	r, err := New(withDefaults(cfg), f.sessions, mustAssets(t), f.broker, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.relay = r
	s, err := f.sessions.Create(1, "Sato")
	if err != nil {
		t.Fatal(err)
	}
	s, f.token, err = sessiontest.Join(f.sessions, s.Code, "pc")
	if err != nil {
		t.Fatal(err)
	}
	f.sess = s
	mux := http.NewServeMux()
	mux.HandleFunc("/customer", func(w http.ResponseWriter, req *http.Request) {
		s, err := f.sessions.ByToken(req.URL.Query().Get("token"))
		if err != nil {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		r.ServeCustomer(w, req, s)
	})
	mux.HandleFunc("/staff", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		s, _ := f.sessions.Get(q.Get("id"))
		// Staff 1 (the session's own) unless the test names another.
		staff, _ := strconv.ParseInt(q.Get("staff"), 10, 64)
		if staff == 0 {
			staff = 1
		}
		r.ServeStaff(w, req, s, Viewer{Login: q.Get("login"), StaffID: staff, Name: q.Get("name"), Supervises: q.Get("sup") == "1"})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) dial(path string) *websocket.Conn {
	f.t.Helper()
	return dialAt(f.t, f.srv.URL, path)
}

// dialAt opens a socket to path on the test server at base; it closes
// with the test.
func dialAt(t testing.TB, base, path string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// withDefaults fills what a test leaves unset with the product's values.
func withDefaults(c Config) Config {
	pol := policy.Default()
	d := FromConfig(config.Default(), &pol)
	for _, f := range []struct{ got, def any }{
		{&c.MaxCustomerMessage, d.MaxCustomerMessage}, {&c.MaxStaffMessage, d.MaxStaffMessage}, {&c.MaxPageBytes, d.MaxPageBytes},
		{&c.QueueMessages, d.QueueMessages}, {&c.QueueBytes, d.QueueBytes},
		{&c.CustomerRate, d.CustomerRate}, {&c.CustomerBurst, d.CustomerBurst},
		{&c.CustomerBytesRate, d.CustomerBytesRate}, {&c.CustomerBytesBurst, d.CustomerBytesBurst},
		{&c.StaffRate, d.StaffRate}, {&c.StaffBurst, d.StaffBurst},
		{&c.PingInterval, d.PingInterval}, {&c.WriteTimeout, d.WriteTimeout},
		{&c.ResyncMinInterval, d.ResyncMinInterval}, {&c.Policy, d.Policy},
	} {
		v := reflect.ValueOf(f.got).Elem()
		if v.IsZero() {
			v.Set(reflect.ValueOf(f.def))
		}
	}
	return c
}

func mustAssets(t testing.TB) *assets.Service {
	t.Helper()
	as, err := assets.New(assets.FromConfig(config.Default(), nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func mustManager(t testing.TB) *session.Manager {
	t.Helper()
	m, err := session.NewManager(session.FromConfig(config.Default()))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type joined struct{ id, token string }

// joinAnother makes a second live session on the same relay.
func (f *fixture) joinAnother() joined {
	f.t.Helper()
	s, err := f.sessions.Create(2, "Suzuki")
	if err != nil {
		f.t.Fatal(err)
	}
	s, tok, err := sessiontest.Join(f.sessions, s.Code, "phone")
	if err != nil {
		f.t.Fatal(err)
	}
	return joined{id: s.ID, token: tok}
}

func (f *fixture) customer() *websocket.Conn { return f.dial("/customer?token=" + f.token) }
func (f *fixture) staff() *websocket.Conn    { return f.dial("/staff?id=" + f.sess.ID) }

func send(t testing.TB, c *websocket.Conn, v any) {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if s, isStr := v.(string); isStr {
			b = []byte(s)
		} else if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// readType reads until a message of type typ arrives.
func readType(t testing.TB, c *websocket.Conn, typ string) map[string]any {
	t.Helper()
	return readTypeWithin(t, c, typ, 5*time.Second)
}

// readTypeWithin is readType with a deadline of its own (a large page
// under the race detector takes a while).
func readTypeWithin(t testing.TB, c *websocket.Conn, typ string, within time.Duration) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		if m["t"] == typ {
			return m
		}
	}
}

// readUntil reads until a message of type typ and returns the ones before it.
func readUntil(t *testing.T, c *websocket.Conn, typ string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var before []map[string]any
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("not JSON: %s", b)
		}
		if m["t"] == typ {
			return before
		}
		before = append(before, m)
	}
}

// closeCode reads until the connection closes and returns the code.
func closeCode(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("connection not closed")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func events(payload string) map[string]any {
	return map[string]any{"t": "events", "ct": time.Now().UnixMilli(), "events": []json.RawMessage{json.RawMessage(`{"type":3,"timestamp":1,"data":{"source":1,"positions":[],"x":"` + payload + `"}}`)}}
}

func TestEventsFlowToStaffWithServerTime(t *testing.T) {
	f := newFixture(t, Config{})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	before := time.Now().UnixMilli()
	send(t, cu, events("hello"))
	m := readType(t, st, "events")
	if ts := int64(m["st"].(float64)); ts < before || ts > time.Now().UnixMilli() {
		t.Fatalf("server time %d not stamped at receipt", ts)
	}
	if !strings.Contains(toJSON(m), "hello") {
		t.Fatalf("events lost: %v", m)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestStaffAllowList(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
		code websocket.StatusCode
	}{
		{"input event", `{"t":"input","id":3,"text":"x"}`, protocol.CloseForbidden},
		{"click", `{"t":"click","id":3}`, protocol.CloseForbidden},
		{"navigation", `{"t":"navigate","url":"https://example.com"}`, protocol.CloseForbidden},
		{"rrweb event", `{"t":"events","events":[]}`, protocol.CloseForbidden},
		{"not json", `hello`, protocol.CloseMalformed},
		{"no type", `{"id":1}`, protocol.CloseMalformed},
		{"pointer out of range", `{"t":"pointer","id":3,"x":5,"y":0}`, protocol.CloseMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			cu := f.customer()
			readType(t, cu, "state")
			st := f.staff()
			readType(t, st, "state")
			send(t, st, tc.msg)
			if got := closeCode(t, st); got != tc.code {
				t.Fatalf("close code %d, want %d", got, tc.code)
			}
			// The customer gets a resync (from the staff joining) and nothing
			// else: everything before a sentinel published after the close
			// is checked.
			if err := f.broker.Publish(context.Background(), broker.ToCustomer(f.sess.ID), []byte(`{"t":"sentinel"}`)); err != nil {
				t.Fatal(err)
			}
			for _, m := range readUntil(t, cu, "sentinel") {
				if m["t"] != "resync" && m["t"] != "state" {
					t.Fatalf("customer received %v", m)
				}
			}
		})
	}
}

func TestStaffMessagesAreRebuilt(t *testing.T) {
	f := newFixture(t, Config{})
	cu := f.customer()
	readType(t, cu, "state")
	st := f.staff()
	readType(t, st, "state")
	send(t, st, `{"t":"pointer","id":7,"x":0.25,"y":0.5,"js":"alert(1)","text":"typed"}`)
	m := readType(t, cu, "pointer")
	// The server adds who pointed (their colour and name); nothing else.
	if len(m) != 6 || m["id"].(float64) != 7 || m["x"].(float64) != 0.25 || m["by"].(float64) != 0 || m["name"] != "Sato" {
		t.Fatalf("customer got %v; want exactly t,id,x,y,by,name", m)
	}
}

func TestCustomerMisbehaviour(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		do   func(t *testing.T, c *websocket.Conn)
		code websocket.StatusCode
	}{
		{"malformed JSON", Config{}, func(t *testing.T, c *websocket.Conn) { send(t, c, `{"t":`) }, protocol.CloseMalformed},
		{"unknown type", Config{}, func(t *testing.T, c *websocket.Conn) { send(t, c, `{"t":"pointer","id":1}`) }, protocol.CloseMalformed},
		{"events not an array", Config{}, func(t *testing.T, c *websocket.Conn) { send(t, c, `{"t":"events","events":{}}`) }, protocol.CloseMalformed},
		{"viewport out of range", Config{}, func(t *testing.T, c *websocket.Conn) {
			send(t, c, `{"t":"viewport","x":0,"y":0,"w":390,"h":844,"s":1e9}`)
		}, protocol.CloseMalformed},
		{"oversized", Config{MaxCustomerMessage: 1024}, func(t *testing.T, c *websocket.Conn) { send(t, c, events(strings.Repeat("x", 2048))) }, websocket.StatusMessageTooBig},
		{"flood", Config{CustomerRate: 1, CustomerBurst: 5}, func(t *testing.T, c *websocket.Conn) {
			for range 20 {
				send(t, c, events("x"))
			}
		}, protocol.CloseRateLimited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			cu := f.customer()
			readType(t, cu, "state")
			tc.do(t, cu)
			if got := closeCode(t, cu); got != tc.code {
				t.Fatalf("close code %d, want %d", got, tc.code)
			}
			if s, _ := f.sessions.Get(f.sess.ID); s.State != session.Live {
				t.Fatalf("session state %s after a bad message; want it untouched", s.State)
			}
			// Another session on the same relay is not disturbed.
			other := f.joinAnother()
			ocu, ost := f.dial("/customer?token="+other.token), f.dial("/staff?id="+other.id)
			readType(t, ocu, "state")
			readType(t, ost, "state")
			send(t, ocu, events("other-session-fine"))
			if m := readType(t, ost, "events"); !strings.Contains(toJSON(m), "other-session-fine") {
				t.Fatalf("other session got %v", m)
			}
		})
	}
}

func TestSecondCustomerSocketReplacesFirst(t *testing.T) {
	f := newFixture(t, Config{})
	first := f.customer()
	readType(t, first, "state")
	second := f.customer()
	readType(t, second, "state")
	if got := closeCode(t, first); got != protocol.CloseReplaced {
		t.Fatalf("first socket closed with %d, want %d", got, protocol.CloseReplaced)
	}
}

// A page that reloads at once opens a socket while the last one may still
// be being set up; that older socket's announcement, arriving late, must
// not close the newer one. A newer socket's announcement, from this node or
// another, closes it.
func TestLateReplaceFromAnOlderSocketClosesNothing(t *testing.T) {
	f := newFixture(t, Config{})
	cu := f.customer()
	readType(t, cu, "state")
	inbox := broker.ToCustomer(f.sess.ID)
	publish := func(m control) {
		t.Helper()
		if err := f.broker.Publish(context.Background(), inbox, mustJSON(m)); err != nil {
			t.Fatal(err)
		}
	}
	publish(control{T: controlReplace, By: f.relay.node + "-0", Node: f.relay.node, Seq: 0, At: time.Now().Add(time.Hour).UnixNano()})
	publish(control{T: controlReplace, By: "other-1", Node: "other", Seq: 1 << 40, At: 1})
	if err := f.broker.Publish(context.Background(), inbox, []byte(`{"t":"probe"}`)); err != nil {
		t.Fatal(err)
	}
	readType(t, cu, "probe") // a kicked socket hears nothing after its close
	publish(control{T: controlReplace, By: "other-2", Node: "other", Seq: 1, At: time.Now().Add(time.Hour).UnixNano()})
	if got := closeCode(t, cu); got != protocol.CloseReplaced {
		t.Fatalf("closed with %d after a newer socket's announcement, want %d", got, protocol.CloseReplaced)
	}
}

// A socket asked for first but set up last (a reload while the last
// page's socket was still being set up) is the stale one: it is closed as
// replaced, and the socket of the newer page stays.
func TestSocketSetUpLateIsTheOneReplaced(t *testing.T) {
	f := newFixture(t, Config{})
	release := make(chan struct{})
	f.relay.beforeAttach = func(req *http.Request) {
		if req.URL.Query().Get("stall") != "" {
			<-release // the first customer socket's setup stalls here
		}
	}
	first := f.dial("/customer?stall=1&token=" + f.token)
	second := f.customer()
	readType(t, second, "state")
	close(release)
	if got := closeCode(t, first); got != protocol.CloseReplaced {
		t.Fatalf("the socket set up late closed with %d, want %d", got, protocol.CloseReplaced)
	}
	if err := f.broker.Publish(context.Background(), broker.ToCustomer(f.sess.ID), []byte(`{"t":"probe"}`)); err != nil {
		t.Fatal(err)
	}
	readType(t, second, "probe")
}

func TestPausedSessionRelaysNoContent(t *testing.T) {
	f := newFixture(t, Config{})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	send(t, cu, map[string]any{"t": "status", "state": "paused", "reason": "secure_input"})
	m := readType(t, st, "state")
	for m["state"] != "paused" {
		m = readType(t, st, "state")
	}
	send(t, cu, events("pin-digits-1234"))
	send(t, cu, map[string]any{"t": "status", "state": "live"})
	send(t, cu, events("after-resume"))
	// Everything the staff socket got up to the first batch after the
	// resume: the PIN batch, sent while paused, must not be among it.
	var seen []string
	for {
		m := readType(t, st, "events")
		seen = append(seen, toJSON(m))
		if strings.Contains(toJSON(m), "after-resume") {
			break
		}
	}
	for _, b := range seen {
		if strings.Contains(b, "pin-digits-1234") {
			t.Fatalf("staff received content sent while paused: %s", b)
		}
	}
	if n := testutil.ToFloat64(f.relay.metrics.Dropped.WithLabelValues("customer", "paused")); n != 1 {
		t.Fatalf("dropped %v paused batches, want 1", n)
	}
}

func TestEndReachesBothSides(t *testing.T) {
	f := newFixture(t, Config{})
	cu := f.customer()
	readType(t, cu, "state")
	st := f.staff()
	readType(t, st, "state")
	send(t, st, `{"t":"end"}`)
	if got := closeCode(t, cu); got != protocol.CloseSessionEnded {
		t.Fatalf("customer closed with %d", got)
	}
	if got := closeCode(t, st); got != protocol.CloseSessionEnded {
		t.Fatalf("staff closed with %d", got)
	}
	if s, _ := f.sessions.Get(f.sess.ID); s.Reason != session.ReasonStaff {
		t.Fatalf("reason %q", s.Reason)
	}
	deadline := time.Now().Add(2 * time.Second)
	for f.broker.Subjects() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d broker subjects left after both sockets closed", f.broker.Subjects())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A staff console that does not read gets its queue replaced by a reset and
// a resync request; the customer is never slowed and memory stays bounded.
func TestSlowStaffIsResyncedNotBuffered(t *testing.T) {
	// Neither socket reads, so neither answers pings: a long write timeout
	// keeps the server from closing them for that while the test runs.
	f := newFixture(t, Config{QueueMessages: 8, QueueBytes: 256 << 10, CustomerRate: 1e6, CustomerBurst: 1 << 20, CustomerBytesRate: 1 << 40, CustomerBytesBurst: 1 << 40, WriteTimeout: time.Minute})
	cu := f.customer()
	readType(t, cu, "state")
	st := f.staff() // never read from after this
	_ = st
	// Incompressible, so the socket buffers between server and console fill
	// and the server's queue for the console has to grow.
	raw := make([]byte, 48<<10)
	rand.Read(raw)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	// Filling the kernel's socket buffers takes about 2.5 s alone under
	// the race detector, and more beside the browser tests: the deadline
	// only stops a run that would never end.
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(f.relay.metrics.Resyncs) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no resync after flooding a non-reading staff socket")
		}
		send(t, cu, events(payload))
	}
	// The customer is asked for a fresh snapshot.
	readType(t, cu, "resync")

	// Memory stays bounded however much more the customer sends: 13 MB more
	// through a console that reads nothing (an unbounded queue would hold it all).
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 200 {
		send(t, cu, events(payload))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 6<<20 {
		t.Fatalf("heap grew by %d MiB while a console read nothing", grew>>20)
	}
}

func TestOutQueueBounds(t *testing.T) {
	q := newOutQueue(3, 100, nil)
	for i := range 3 {
		if !q.push(item{data: []byte("x")}) {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.push(item{data: []byte("x")}) {
		t.Fatal("push beyond item bound accepted")
	}
	q2 := newOutQueue(10, 80, nil)
	for range 7 {
		q2.push(item{data: make([]byte, 10)})
	}
	if q2.push(item{data: make([]byte, 11)}) {
		t.Fatal("push beyond byte bound accepted")
	}
	// One message larger than the whole bound (a large page) goes into a
	// queue that holds little, so that it can be sent at all; not into a fuller one.
	q3 := newOutQueue(10, 80, nil)
	q3.push(item{data: make([]byte, 10)})
	if !q3.push(item{data: make([]byte, 100)}) {
		t.Fatal("a page larger than the bound was refused by an almost empty queue")
	}
	if q3.push(item{data: make([]byte, 100)}) {
		t.Fatal("a second large page was taken")
	}
	q.appendFinal(item{data: []byte("end")})
	if q.len() != 1 {
		t.Fatalf("final on a full queue should replace it, len %d", q.len())
	}
	if !q.push(item{data: []byte("late")}) || q.len() != 1 {
		t.Fatal("messages after the final one must be discarded")
	}
}

func TestSessionHasStaffUntilTheLastConsoleCloses(t *testing.T) {
	f := newFixture(t, Config{})
	a := f.staff()
	readType(t, a, "state")
	b := f.staff()
	readType(t, b, "state")
	a.Close(websocket.StatusNormalClosure, "")
	// Wait until the relay has let go of the first console.
	deadline := time.Now().Add(2 * time.Second)
	for f.relay.staffSockets(f.sess.ID) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("relay still holds %d staff sockets after one closed", f.relay.staffSockets(f.sess.ID))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s, _ := f.sessions.Get(f.sess.ID); !s.StaffConnected {
		t.Fatal("session marked without staff while a console is still open")
	}
	b.Close(websocket.StatusNormalClosure, "")
	deadline = time.Now().Add(2 * time.Second)
	for {
		if s, _ := f.sessions.Get(f.sess.ID); !s.StaffConnected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("session still marked with staff after both consoles closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A node that goes away while sessions go on tells both sides to reconnect
// (4100), and Shutdown returns once every socket is gone.
func TestShutdownTellsSocketsOfLiveSessionsToReconnect(t *testing.T) {
	f := newFixture(t, Config{})
	cu := f.customer()
	readType(t, cu, "state")
	st := f.staff()
	readType(t, st, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.relay.Shutdown(ctx) }()
	for name, c := range map[string]*websocket.Conn{"customer": cu, "staff": st} {
		if got := closeCode(t, c); got != protocol.CloseServerShutdown {
			t.Errorf("%s closed with %d, want %d", name, got, protocol.CloseServerShutdown)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if s, _ := f.sessions.Get(f.sess.ID); s.State != session.Live {
		t.Fatalf("session %s after a node shutdown; it must go on", s.State)
	}
	// A socket arriving after the shutdown began is turned away the same way.
	late := f.customer()
	if got := closeCode(t, late); got != protocol.CloseServerShutdown {
		t.Fatalf("late socket closed with %d", got)
	}
}

// When the sessions end first (a single node stopping), each side hears the
// end with its reason, not a "reconnect" it could never act on.
func TestShutdownAfterEndingSessionsSaysEnded(t *testing.T) {
	f := newFixture(t, Config{})
	cu := f.customer()
	readType(t, cu, "state")
	st := f.staff()
	readType(t, st, "state")
	f.sessions.EndAll(session.ReasonShutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go f.relay.Shutdown(ctx)
	for name, c := range map[string]*websocket.Conn{"customer": cu, "staff": st} {
		m := readType(t, c, "state")
		for m["state"] != "ended" {
			m = readType(t, c, "state")
		}
		if m["reason"] != session.ReasonShutdown {
			t.Errorf("%s told reason %v", name, m["reason"])
		}
		if got := closeCode(t, c); got != protocol.CloseSessionEnded {
			t.Errorf("%s closed with %d, want %d", name, got, protocol.CloseSessionEnded)
		}
	}
}

func (r *Relay) staffSockets(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.staff[id])
}

// A phone's visual viewport reaches staff rebuilt from its numbers only.
func TestViewportReachesStaffRebuilt(t *testing.T) {
	f := newFixture(t, Config{})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	readType(t, cu, "state")
	send(t, cu, `{"t":"viewport","x":10.5,"y":200,"w":195,"h":422,"s":2,"html":"<b>x</b>"}`)
	m := readType(t, st, "viewport")
	if len(m) != 6 || m["s"].(float64) != 2 || m["w"].(float64) != 195 || m["x"].(float64) != 10.5 {
		t.Fatalf("staff got %v; want exactly t,x,y,w,h,s", m)
	}
}

// An event that both the privacy filter and the page-file rewriter change
// reaches staff with both changes: the rewriter works on what the filter
// made of it, never on what the page sent.
func TestFilteredEventIsRewrittenAfterFiltering(t *testing.T) {
	f := newFixture(t, Config{})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	snapshot := `{"type":2,"timestamp":2,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"html","attributes":{},"childNodes":[` +
		`{"type":2,"id":3,"tagName":"input","attributes":{"value":"secret-4711"},"childNodes":[]},` +
		`{"type":2,"id":4,"tagName":"img","attributes":{"src":"/logo.png"},"childNodes":[]}]}]},"initialOffset":{"left":0,"top":0}}}`
	send(t, cu, map[string]any{"t": "events", "ct": 1, "events": []json.RawMessage{
		json.RawMessage(`{"type":4,"timestamp":1,"data":{"href":"https://bank.example/top","width":800,"height":600}}`),
		json.RawMessage(snapshot),
	}})
	got := toJSON(readType(t, st, "events"))
	if strings.Contains(got, "secret-4711") {
		t.Fatalf("the unmasked value reached staff: %s", got)
	}
	if !strings.Contains(got, privacy.Mask) {
		t.Fatalf("the value was not masked: %s", got)
	}
	if strings.Contains(got, `"src":"/logo.png"`) || !strings.Contains(got, `"src":"`) {
		t.Fatalf("the image was not rewritten to be fetched from Tomoni: %s", got)
	}
}
