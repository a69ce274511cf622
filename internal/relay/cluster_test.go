package relay

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tomoni-cobrowse/tomoni/internal/assets"
	"github.com/tomoni-cobrowse/tomoni/internal/broker/natsbroker"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/natstest"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/natskv"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
)

// relayNode is one node of a cluster in a test: its own NATS connection,
// session view, broker, relay and HTTP server.
type relayNode struct {
	sessions *session.Manager
	srv      *httptest.Server
}

func startRelayNodes(t *testing.T, n int) []relayNode {
	t.Helper()
	nats := natstest.Start(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	var out []relayNode
	for i := range n {
		nc := nats.Connect(t)
		kv, err := natskv.Open(context.Background(), nc, natskv.Config{Bucket: "relay", Node: fmt.Sprint("node", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kv.Close() })
		cfg := session.FromConfig(config.Default())
		cfg.KV = kv
		m, err := session.NewManager(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		b := natsbroker.New(nc, natsbroker.Config{})
		acfg := assets.FromConfig(config.Default(), nil)
		acfg.Broker, acfg.Secret = b, secret
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		as, err := assets.New(acfg, log)
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(withDefaults(Config{}), m, as, b, prometheus.NewRegistry(), log)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/customer", func(w http.ResponseWriter, req *http.Request) {
			s, err := m.ByToken(req.URL.Query().Get("token"))
			if err != nil {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			r.ServeCustomer(w, req, s)
		})
		mux.HandleFunc("/staff", func(w http.ResponseWriter, req *http.Request) {
			s, _ := m.Get(req.URL.Query().Get("id"))
			r.ServeStaff(w, req, s, Viewer{StaffID: 1, Name: "Sato"})
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		out = append(out, relayNode{sessions: m, srv: srv})
	}
	return out
}

func (n relayNode) dial(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	return dialAt(t, n.srv.URL, path)
}

// A customer on one node and staff on another see each other; a newer
// customer socket on another node closes the older one, as on one node;
// the end reaches sockets on every node.
func TestSessionAcrossTwoNodes(t *testing.T) {
	nodes := startRelayNodes(t, 2)
	a, b := nodes[0], nodes[1]
	s, err := a.sessions.Create(1, "Sato")
	if err != nil {
		t.Fatal(err)
	}
	s, tok, err := sessiontest.Join(a.sessions, s.Code, "pc")
	if err != nil {
		t.Fatal(err)
	}
	staff := b.dial(t, "/staff?id="+s.ID)
	readType(t, staff, "state")
	first := a.dial(t, "/customer?token="+tok)
	readType(t, first, "state")
	send(t, first, events("from-node-a"))
	if m := readType(t, staff, "events"); !strings.Contains(toJSON(m), "from-node-a") {
		t.Fatalf("staff on node b got %v", m)
	}
	send(t, staff, `{"t":"pointer","id":7,"x":0.5,"y":0.5}`)
	readType(t, first, "pointer")

	second := b.dial(t, "/customer?token="+tok)
	readType(t, second, "state")
	if got := closeCode(t, first); got != protocol.CloseReplaced {
		t.Fatalf("the older socket on node a closed with %d, want %d (replaced)", got, protocol.CloseReplaced)
	}
	send(t, second, events("from-node-b"))
	if m := readType(t, staff, "events"); !strings.Contains(toJSON(m), "from-node-b") {
		t.Fatalf("staff got %v", m)
	}
	if cur, _ := a.sessions.Get(s.ID); !cur.CustomerConnected {
		t.Fatal("the old socket closing on node a marked the customer gone though they are on node b")
	}

	if _, err := a.sessions.End(s.ID, session.ReasonStaff); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*websocket.Conn{"staff": staff, "customer": second} {
		if got := closeCode(t, c); got != protocol.CloseSessionEnded {
			t.Errorf("%s socket on node b closed with %d after the end on node a, want %d", name, got, protocol.CloseSessionEnded)
		}
	}
}

// After this node's link to the others comes back, every customer with a
// console here is asked for a fresh snapshot, which repairs any gap.
func TestResyncAllAsksCustomersWithConsolesHere(t *testing.T) {
	f := newFixture(t, Config{})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	readType(t, cu, "state")
	f.relay.ResyncAll()
	readType(t, cu, "resync")
}
