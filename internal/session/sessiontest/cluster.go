package sessiontest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// Clock is a deployment's shared test clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed date.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)} }

// Now reads the clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Node is one node of a deployment under test.
type Node struct {
	*session.Manager
	// Kill stops the node as a crash would: its lease is not given up. Nil
	// when the KV has no nodes to lose (memory).
	Kill func()
}

// Deployment adds nodes to one fresh deployment; every node gets cfg
// (with its KV set by the deployment).
type Deployment func(cfg session.Config) Node

// Config is the product's configuration with the clock set.
func Config(clk *Clock) session.Config {
	cfg := session.FromConfig(config.Default())
	cfg.Now = clk.Now
	return cfg
}

// changes counts the changes a node announces.
type changes struct {
	mu    sync.Mutex
	ended map[string]int
}

func (c *changes) follow(m *session.Manager) {
	m.Subscribe(func(ch session.Change) {
		if ch.Session.State == session.Ended && ch.Prev != session.Ended {
			c.mu.Lock()
			c.ended[ch.Session.ID]++
			c.mu.Unlock()
		}
	})
}

func (c *changes) endedCount(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended[id]
}

// request places a join request with code on m and returns its id.
func request(t *testing.T, m *session.Manager, code string) (session.Ticket, string) {
	t.Helper()
	tk, err := m.RequestJoin(code, session.JoinInfo{Device: "phone", Browser: "Safari / iOS"})
	if err != nil {
		t.Fatalf("request to join: %v", err)
	}
	s, err := m.Get(tk.Session)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Requests {
		if r.Check == tk.Check {
			return tk, r.ID
		}
	}
	t.Fatalf("request %s not on the session", tk.Check)
	return tk, ""
}

// RunCluster is the contract of a Manager whose nodes share a KV: every
// race between nodes has one winner, limits hold for the deployment, and
// timers fire on whichever node sweeps. newDeployment returns a fresh
// deployment per call.
func RunCluster(t *testing.T, newDeployment func(t *testing.T) Deployment) {
	t.Run("concurrent admissions over two nodes fill the live places exactly", func(t *testing.T) {
		clk := NewClock()
		cfg := Config(clk)
		cfg.MaxLive, cfg.MaxWaiting, cfg.MaxPerStaff = 10, 100, 100
		add := newDeployment(t)
		nodes := []Node{add(cfg), add(cfg)}
		type req struct {
			node *session.Manager
			id   string
			rid  string
		}
		var reqs []req
		for i := range 50 {
			m := nodes[i%2].Manager
			s, err := m.Create(int64(1+i%5), "佐藤")
			if err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
			_, rid := request(t, nodes[(i+1)%2].Manager, s.Code)
			reqs = append(reqs, req{node: nodes[(i/2)%2].Manager, id: s.ID, rid: rid})
		}
		var admitted, busy atomic.Int32
		var wg sync.WaitGroup
		for _, r := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := r.node.Admit(r.id, r.rid)
				switch {
				case err == nil:
					admitted.Add(1)
				case errors.Is(err, apperr.ErrBusy):
					busy.Add(1)
				default:
					t.Errorf("admit: %v", err)
				}
			}()
		}
		wg.Wait()
		if admitted.Load() != 10 || busy.Load() != 40 {
			t.Fatalf("%d admitted, %d told busy; want 10 and 40", admitted.Load(), busy.Load())
		}
		// A place freed on one node is free on the other.
		var live, waiting string
		var waitingRID string
		for _, r := range reqs {
			s, _ := nodes[0].Get(r.id)
			switch {
			case s.State == session.Live && live == "":
				live = r.id
			case s.State == session.Waiting && waiting == "":
				waiting, waitingRID = r.id, r.rid
			}
		}
		if _, err := nodes[0].End(live, session.ReasonStaff); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[1].Admit(waiting, waitingRID); err != nil {
			t.Fatalf("admission after a place was freed on the other node: %v", err)
		}
		if _, active := nodes[1].Counts(); active != 10 {
			t.Fatalf("%d active, want 10", active)
		}
	})

	t.Run("a request is admitted once, whichever nodes try", func(t *testing.T) {
		cfg := Config(NewClock())
		add := newDeployment(t)
		a, b := add(cfg), add(cfg)
		s, err := a.Create(1, "佐藤")
		if err != nil {
			t.Fatal(err)
		}
		tk, rid := request(t, b.Manager, s.Code)
		var ok, refused atomic.Int32
		var wg sync.WaitGroup
		for _, m := range []*session.Manager{a.Manager, b.Manager, a.Manager, b.Manager} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := m.Admit(s.ID, rid); err == nil {
					ok.Add(1)
				} else if errors.Is(err, session.ErrRequestUnknown) {
					refused.Add(1)
				} else {
					t.Errorf("admit: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != 3 {
			t.Fatalf("%d admissions, %d refused; want 1 and 3", ok.Load(), refused.Load())
		}
		// The code is spent everywhere, and the customer's token works on
		// the node that did not admit.
		if _, err := b.RequestJoin(s.Code, session.JoinInfo{}); !errors.Is(err, apperr.ErrInvalidCode) {
			t.Fatalf("the used code on the other node: %v", err)
		}
		for _, m := range []*session.Manager{a.Manager, b.Manager} {
			if got, err := m.ByToken(tk.Token); err != nil || got.State != session.Live {
				t.Fatalf("token on a node: %+v %v", got, err)
			}
		}
	})

	t.Run("two nodes ending a session end it once", func(t *testing.T) {
		cfg := Config(NewClock())
		add := newDeployment(t)
		a, b := add(cfg), add(cfg)
		seen := &changes{ended: make(map[string]int)}
		seen.follow(a.Manager)
		seen.follow(b.Manager)
		s, _ := a.Create(1, "佐藤")
		_, rid := request(t, a.Manager, s.Code)
		if _, err := a.Admit(s.ID, rid); err != nil {
			t.Fatal(err)
		}
		var ended, already atomic.Int32
		var wg sync.WaitGroup
		for i, m := range []*session.Manager{a.Manager, b.Manager, a.Manager, b.Manager} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reason := session.ReasonStaff
				if i%2 == 1 {
					reason = session.ReasonCustomer
				}
				if _, err := m.End(s.ID, reason); err == nil {
					ended.Add(1)
				} else if errors.Is(err, apperr.ErrEnded) {
					already.Add(1)
				} else {
					t.Errorf("end: %v", err)
				}
			}()
		}
		wg.Wait()
		if ended.Load() != 1 || already.Load() != 3 || seen.endedCount(s.ID) != 1 {
			t.Fatalf("%d ends, %d already ended, %d end announcements; want 1, 3, 1", ended.Load(), already.Load(), seen.endedCount(s.ID))
		}
	})

	t.Run("timers fire on any node, once", func(t *testing.T) {
		clk := NewClock()
		cfg := Config(clk)
		add := newDeployment(t)
		a, b := add(cfg), add(cfg)
		seen := &changes{ended: make(map[string]int)}
		seen.follow(a.Manager)
		seen.follow(b.Manager)
		waiting, _ := a.Create(1, "佐藤")
		live, _ := a.Create(2, "鈴木")
		_, rid := request(t, a.Manager, live.Code)
		if _, err := a.Admit(live.ID, rid); err != nil {
			t.Fatal(err)
		}
		a.SetConnected(live.ID, false, true)
		clk.Add(cfg.MaxDuration + time.Second) // past the code's lifetime and the longest session
		var wg sync.WaitGroup
		for _, m := range []*session.Manager{a.Manager, b.Manager, b.Manager} {
			wg.Add(1)
			go func() { defer wg.Done(); m.Sweep() }()
		}
		wg.Wait()
		for id, reason := range map[string]string{waiting.ID: session.ReasonExpired, live.ID: session.ReasonCustomerLost} {
			s, err := b.Get(id)
			if err != nil || s.State != session.Ended || s.Reason != reason {
				t.Fatalf("session %s: %+v %v; want ended, %s", id, s, err, reason)
			}
			if n := seen.endedCount(id); n != 1 {
				t.Fatalf("session %s ended %d times", id, n)
			}
		}
		if w, act := b.Counts(); w != 0 || act != 0 {
			t.Fatalf("counts after the sweep: %d waiting, %d active", w, act)
		}
	})

	t.Run("a join request's poll on one node hears the decision made on another", func(t *testing.T) {
		cfg := Config(NewClock())
		add := newDeployment(t)
		a, b := add(cfg), add(cfg)
		s, _ := a.Create(1, "佐藤")
		tk, rid := request(t, b.Manager, s.Code)
		got := make(chan session.Status, 1)
		go func() {
			st, err := b.WaitRequest(t.Context(), tk.Token, time.Minute)
			if err != nil {
				t.Error(err)
			}
			got <- st
		}()
		time.Sleep(50 * time.Millisecond) // let the poll wait
		if _, err := a.Admit(s.ID, rid); err != nil {
			t.Fatal(err)
		}
		select {
		case st := <-got:
			if st.Outcome != session.RequestAdmitted || st.Session.StaffName != "佐藤" {
				t.Fatalf("poll answered %+v", st)
			}
		case <-time.After(wait):
			t.Fatal("the poll did not hear the admission")
		}
	})

	t.Run("a hand-off token is spent once, whichever nodes redeem it", func(t *testing.T) {
		cfg := Config(NewClock())
		add := newDeployment(t)
		a, b := add(cfg), add(cfg)
		s, _ := a.Create(1, "佐藤")
		tk, rid := request(t, a.Manager, s.Code)
		if _, err := a.Admit(s.ID, rid); err != nil {
			t.Fatal(err)
		}
		h, err := b.Handoff(tk.Token)
		if err != nil {
			t.Fatal(err)
		}
		var ok, refused atomic.Int32
		tokens := make(chan string, 4)
		var wg sync.WaitGroup
		for _, m := range []*session.Manager{a.Manager, b.Manager, a.Manager, b.Manager} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, tok, err := m.Redeem(h)
				switch {
				case err == nil:
					ok.Add(1)
					tokens <- tok
				case errors.Is(err, session.ErrHandoff):
					refused.Add(1)
				default:
					t.Errorf("redeem: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != 3 {
			t.Fatalf("%d redeemed, %d refused; want 1 and 3", ok.Load(), refused.Load())
		}
		tok := <-tokens
		if got, err := a.ByToken(tok); err != nil || got.ID != s.ID {
			t.Fatalf("the new token: %+v %v", got, err)
		}
	})

}

// RunNodes checks what needs nodes that can be told apart and killed: a
// customer's newer socket on another node wins over the old one, and a
// node's death frees what it held (its customer counts as gone and may
// come back through another node; its supervisors' watch ends). lease is
// the deployment's.
func RunNodes(t *testing.T, lease time.Duration, newDeployment func(t *testing.T) Deployment) {
	t.Run("a customer who comes back through another node keeps the session", func(t *testing.T) {
		cfg := Config(NewClock())
		add := newDeployment(t)
		a, b := add(cfg), add(cfg)
		s, _ := a.Create(1, "佐藤")
		_, rid := request(t, a.Manager, s.Code)
		if _, err := a.Admit(s.ID, rid); err != nil {
			t.Fatal(err)
		}
		a.SetConnected(s.ID, true, true)
		b.SetConnected(s.ID, true, true) // the newer socket, on b
		a.SetConnected(s.ID, true, false)
		got, _ := b.Get(s.ID)
		if !got.CustomerConnected {
			t.Fatal("the old socket closing on a marked the customer gone though they are on b")
		}
	})

	t.Run("a node's death frees what it held", func(t *testing.T) { nodeLoss(t, lease, newDeployment) })
}

func nodeLoss(t *testing.T, lease time.Duration, newDeployment func(t *testing.T) Deployment) {
	cfg := Config(NewClock())
	add := newDeployment(t)
	a, b := add(cfg), add(cfg)
	if a.Kill == nil {
		t.Fatal("the deployment's nodes cannot be killed")
	}
	s, _ := a.Create(1, "佐藤")
	_, rid := request(t, a.Manager, s.Code)
	if _, err := a.Admit(s.ID, rid); err != nil {
		t.Fatal(err)
	}
	a.SetConnected(s.ID, true, true)
	a.SetConnected(s.ID, false, true)
	b.SetConnected(s.ID, false, true)
	if _, err := a.Watch(s.ID, 9, "上司"); err != nil {
		t.Fatal(err)
	}
	a.Kill()
	deadline := time.Now().Add(3*lease + wait)
	for {
		b.Sweep()
		got, err := b.Get(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CustomerConnected && len(got.Watchers) == 0 {
			if got.State != session.Live || !got.StaffConnected {
				t.Fatalf("after a's death: %+v; want live with b's staff", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's sockets still counted %s after its death: %+v", 3*lease+wait, got)
		}
		time.Sleep(lease / 5)
	}
	b.SetConnected(s.ID, true, true)
	if got, _ := b.Get(s.ID); !got.CustomerConnected || got.State != session.Live {
		t.Fatalf("the customer back through b: %+v", got)
	}
}
