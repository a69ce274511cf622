package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/streamdeflate"
)

// counter counts the bytes a connection reads off the wire (compressed).
type counter struct {
	net.Conn
	n *atomic.Int64
}

func (c counter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// stats gathers one step's measurements; safe for concurrent use.
type stats struct {
	mu        sync.Mutex
	latencies []time.Duration // customer send → staff read
	closes    map[string]int
	wire      atomic.Int64 // bytes staff sockets read off the wire
	raw       atomic.Int64 // bytes of the messages they read, inflated
	relayed   atomic.Int64 // messages that arrived (both directions)
	measuring atomic.Bool
}

func newStats() *stats { return &stats{closes: map[string]int{}} }

func (s *stats) latency(d time.Duration) {
	if !s.measuring.Load() {
		return
	}
	s.mu.Lock()
	s.latencies = append(s.latencies, d)
	s.mu.Unlock()
}

func (s *stats) closed(err error) {
	code := websocket.CloseStatus(err)
	// Without a close code, what failed: a reset, an inflate error, …
	key := "network: " + err.Error()
	if code != -1 {
		key = strconv.Itoa(int(code))
	}
	s.mu.Lock()
	s.closes[key]++
	s.mu.Unlock()
}

// target is a server under load: how to open one session's two sockets.
type target interface {
	name() string
	// open sets a session up; redial opens its customer socket again, as
	// a page that lost its connection does.
	open(ctx context.Context, st *stats) (customer, staff *websocket.Conn, redial func(context.Context) (*websocket.Conn, error), err error)
}

func dialer(st *stats) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil || st == nil {
				return c, err
			}
			return counter{c, &st.wire}, nil
		},
		MaxIdleConnsPerHost: 64,
	}}
}

// Browsers offer permessage-deflate; the server picks what it allows. A
// console also offers its subprotocols.
func dialWS(ctx context.Context, url, origin string, client *http.Client, cookie string, subprotocols ...string) (*websocket.Conn, error) {
	h := http.Header{}
	h.Set("Origin", origin)
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client, HTTPHeader: h, CompressionMode: websocket.CompressionContextTakeover, Subprotocols: subprotocols})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(64 << 20)
	return ws, nil
}

// tomoniTarget sets sessions up as the console and the SDK do: the staff
// member creates a session, the customer asks to join with its code, the
// staff admit the request, then both open their sockets.
type tomoniTarget struct {
	stream bool   // staff sockets offer the compressed stream, as the console does
	base   string // where the staff go
	cust   string // where the customers go (another node of a cluster)
	api    *http.Client
	cookie string
	csrf   string
}

func newTomoniTarget(ctx context.Context, base, cust string, stream bool) (*tomoniTarget, error) {
	jar, _ := cookiejar.New(nil)
	t := &tomoniTarget{base: base, cust: cust, api: dialer(nil), stream: stream}
	t.api.Jar = jar
	var me struct {
		CSRF string `json:"csrf"`
	}
	if err := t.call(ctx, "POST", "/api/login", base, map[string]string{"username": benchStaff, "password": benchPass}, &me); err != nil {
		return nil, fmt.Errorf("log in: %w", err)
	}
	t.csrf = me.CSRF
	u, _ := http.NewRequest("GET", base, nil)
	for _, c := range jar.Cookies(u.URL) {
		t.cookie = c.Name + "=" + c.Value
	}
	return t, nil
}

func (t *tomoniTarget) name() string { return "tomoni" }

func (t *tomoniTarget) call(ctx context.Context, method, path, origin string, body, out any) error {
	return t.callAt(ctx, t.base, method, path, origin, body, out)
}

func (t *tomoniTarget) callAt(ctx context.Context, at, method, path, origin string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, at+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	if t.csrf != "" && origin == t.base {
		req.Header.Set("X-CSRF-Token", t.csrf)
	}
	res, err := t.api.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (t *tomoniTarget) open(ctx context.Context, st *stats) (*websocket.Conn, *websocket.Conn, func(context.Context) (*websocket.Conn, error), error) {
	var s struct {
		ID   string `json:"id"`
		Code string `json:"code"`
	}
	if err := t.call(ctx, "POST", "/api/sessions", t.base, nil, &s); err != nil {
		return nil, nil, nil, err
	}
	var tk struct {
		Token string `json:"token"`
		Check string `json:"check"`
	}
	if err := t.callAt(ctx, t.cust, "POST", "/api/join", benchSite, map[string]string{"code": s.Code, "device": "pc"}, &tk); err != nil {
		return nil, nil, nil, err
	}
	var list []struct {
		ID       string `json:"id"`
		Requests []struct {
			ID    string `json:"id"`
			Check string `json:"check"`
		} `json:"requests"`
	}
	if err := t.call(ctx, "GET", "/api/sessions", t.base, nil, &list); err != nil {
		return nil, nil, nil, err
	}
	rid := ""
	for _, x := range list {
		for _, r := range x.Requests {
			if x.ID == s.ID && r.Check == tk.Check {
				rid = r.ID
			}
		}
	}
	if rid == "" {
		return nil, nil, nil, errors.New("the join request is not listed")
	}
	if err := t.call(ctx, "POST", "/api/sessions/"+s.ID+"/requests/"+rid+"/admit", t.base, nil, nil); err != nil {
		return nil, nil, nil, err
	}
	ws := "ws" + strings.TrimPrefix(t.base, "http")
	var offer []string
	if t.stream {
		offer = []string{protocol.StaffStream}
	}
	staff, err := dialWS(ctx, ws+"/api/sessions/"+s.ID+"/ws", t.base, dialer(st), t.cookie, offer...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("staff socket: %w", err)
	}
	redial := func(ctx context.Context) (*websocket.Conn, error) {
		return dialWS(ctx, "ws"+strings.TrimPrefix(t.cust, "http")+"/api/customer/ws?token="+tk.Token, benchSite, dialer(nil), "")
	}
	customer, err := redial(ctx)
	if err != nil {
		staff.CloseNow()
		return nil, nil, nil, fmt.Errorf("customer socket: %w", err)
	}
	return customer, staff, redial, nil
}

type forwarderTarget struct {
	base string
	next atomic.Int64
}

func (f *forwarderTarget) name() string { return "forwarder" }

func (f *forwarderTarget) open(ctx context.Context, st *stats) (*websocket.Conn, *websocket.Conn, func(context.Context) (*websocket.Conn, error), error) {
	id := strconv.FormatInt(f.next.Add(1), 10)
	ws := "ws" + strings.TrimPrefix(f.base, "http")
	staff, err := dialWS(ctx, ws+"/s/"+id, f.base, dialer(st), "")
	if err != nil {
		return nil, nil, nil, err
	}
	redial := func(ctx context.Context) (*websocket.Conn, error) {
		return dialWS(ctx, ws+"/c/"+id, benchSite, dialer(nil), "")
	}
	customer, err := redial(ctx)
	if err != nil {
		staff.CloseNow()
		return nil, nil, nil, err
	}
	return customer, staff, redial, nil
}

var ctField = regexp.MustCompile(`"ct":[0-9]+`)

// drive runs one session's traffic until ctx ends: the customer sends the
// recorded stream in a loop at rate messages a second, each stamped with
// its send time (in ct, in nanoseconds); the staff points once a second.
// Both sides read everything; the staff side measures each batch's delay.
// While paused is set, neither side sends (another target is measured).
func drive(ctx context.Context, customer, staff *websocket.Conn, stream *visit, rate float64, paused *atomic.Bool, st *stats) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // the staff console
		defer wg.Done()
		var stream streamdeflate.Reader
		for {
			typ, msg, err := staff.Read(ctx)
			if err == nil && typ == websocket.MessageBinary {
				msg, err = stream.Next(msg)
			}
			if err != nil {
				if ctx.Err() == nil {
					st.closed(err)
				}
				return
			}
			st.raw.Add(int64(len(msg)))
			if bytes.HasPrefix(msg, []byte(`{"t":"events"`)) {
				st.relayed.Add(1)
				if m := ctField.Find(msg); m != nil {
					if ns, err := strconv.ParseInt(string(m[5:]), 10, 64); err == nil {
						st.latency(time.Duration(time.Now().UnixNano() - ns))
					}
				}
			}
		}
	}()
	go func() { // the customer's page reads pointers
		defer wg.Done()
		for {
			_, msg, err := customer.Read(ctx)
			if err != nil {
				if ctx.Err() == nil {
					st.closed(err)
				}
				return
			}
			if bytes.HasPrefix(msg, []byte(`{"t":"pointer"`)) {
				st.relayed.Add(1)
			}
		}
	}()
	go func() {
		defer wg.Done()
		every := time.Duration(float64(time.Second) / rate)
		// Sessions start at random points of the visit and of a period.
		next := stream.start()
		time.Sleep(time.Duration(rand.Int64N(int64(every))))
		tick := time.NewTicker(every)
		defer tick.Stop()
		point := time.NewTicker(time.Second)
		defer point.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-point.C:
				if paused.Load() {
					continue
				}
				if staff.Write(ctx, websocket.MessageText, []byte(`{"t":"pointer","id":5,"x":0.5,"y":0.5}`)) != nil {
					return
				}
			case <-tick.C:
				if paused.Load() {
					continue
				}
				msg := ctField.ReplaceAll(next(), []byte(`"ct":`+strconv.FormatInt(time.Now().UnixNano(), 10)))
				if customer.Write(ctx, websocket.MessageText, msg) != nil {
					return
				}
			}
		}
	}()
	wg.Wait()
}
