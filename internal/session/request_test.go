package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
)

func TestRequestsWaitForTheStaffDecision(t *testing.T) {
	m, _, _ := newTestManager(t, Config{MaxRequests: 3})
	s, _ := m.Create(1, "佐藤")
	a, err := m.RequestJoin(s.Code, JoinInfo{Device: "phone", Client: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.RequestJoin(s.Code, JoinInfo{Device: "pc", Client: "b"})
	c, _ := m.RequestJoin(s.Code, JoinInfo{Device: "pc", Client: "c"})
	if a.Check == b.Check || b.Check == c.Check || a.Check == c.Check {
		t.Fatalf("check numbers repeat: %s %s %s", a.Check, b.Check, c.Check)
	}
	if _, err := m.RequestJoin(s.Code, JoinInfo{Client: "d"}); !errors.Is(err, ErrTooManyRequests) {
		t.Fatalf("fourth request: %v", err)
	}
	if g, _ := m.Get(s.ID); g.State != Waiting || len(g.Requests) != 3 || g.Code != s.Code {
		t.Fatalf("requests consumed the code: %+v", g)
	}
	// A poll blocks until the staff decides, then hears the decision.
	got := make(chan Status)
	go func() {
		st, _ := m.WaitRequest(context.Background(), b.Token, time.Minute)
		got <- st
	}()
	g, _ := m.Get(s.ID)
	if err := m.Decline(s.ID, g.Requests[1].ID); err != nil {
		t.Fatal(err)
	}
	if st := <-got; st.Outcome != RequestDeclined || st.Session.StaffName != "" {
		t.Fatalf("declined poll: %+v", st)
	}
	live, err := m.Admit(s.ID, g.Requests[0].ID)
	if err != nil || live.State != Live || live.Device != "phone" || len(live.Requests) != 0 {
		t.Fatalf("admit: %+v %v", live, err)
	}
	if st, _ := m.WaitRequest(context.Background(), a.Token, time.Second); st.Outcome != RequestAdmitted || st.Session.StaffName != "佐藤" {
		t.Fatalf("admitted poll: %+v", st)
	}
	if st, _ := m.WaitRequest(context.Background(), c.Token, time.Second); st.Outcome != RequestGone {
		t.Fatalf("outranked poll: %+v", st)
	}
	if got, err := m.ByToken(a.Token); err != nil || got.ID != s.ID {
		t.Fatalf("the admitted token does not open the session: %v", err)
	}
	if _, err := m.ByToken(c.Token); err == nil {
		t.Fatal("a turned-away token opens the session")
	}
	if _, err := m.Admit(s.ID, g.Requests[2].ID); !errors.Is(err, ErrRequestUnknown) {
		t.Fatalf("second admission: %v", err)
	}
}

func TestRequestsLapseAndEndWithTheirSession(t *testing.T) {
	m, clk, _ := newTestManager(t, Config{RequestIdle: 30 * time.Second})
	s, _ := m.Create(1, "佐藤")
	gone, _ := m.RequestJoin(s.Code, JoinInfo{Client: "a"})
	kept, _ := m.RequestJoin(s.Code, JoinInfo{Client: "b"})
	clk.Add(20 * time.Second)
	m.WaitRequest(context.Background(), kept.Token, 0) // still polling
	clk.Add(15 * time.Second)
	m.Sweep()
	g, _ := m.Get(s.ID)
	if len(g.Requests) != 1 || g.Requests[0].Check != kept.Check {
		t.Fatalf("requests after the idle limit: %+v", g.Requests)
	}
	if st, _ := m.WaitRequest(context.Background(), gone.Token, 0); st.Outcome != RequestGone {
		t.Fatalf("lapsed request: %+v", st)
	}
	m.End(s.ID, ReasonStaff)
	if st, _ := m.WaitRequest(context.Background(), kept.Token, time.Second); st.Outcome != RequestGone {
		t.Fatalf("request of an ended session: %+v", st)
	}
	// Decided requests are forgotten after a while; then the token is unknown.
	clk.Add(time.Hour)
	m.Sweep()
	if _, err := m.WaitRequest(context.Background(), kept.Token, 0); !errors.Is(err, apperr.ErrUnauthorized) {
		t.Fatalf("old token: %v", err)
	}
}

func TestSameClientReplacesItsRequestAndCanWithdraw(t *testing.T) {
	m, _, _ := newTestManager(t, Config{})
	s, _ := m.Create(1, "佐藤")
	first, _ := m.RequestJoin(s.Code, JoinInfo{Client: "a"})
	second, _ := m.RequestJoin(s.Code, JoinInfo{Client: "a"})
	if g, _ := m.Get(s.ID); len(g.Requests) != 1 {
		t.Fatalf("%d requests from one client", len(g.Requests))
	}
	if st, _ := m.WaitRequest(context.Background(), first.Token, 0); st.Outcome != RequestGone {
		t.Fatalf("replaced request: %+v", st)
	}
	if !m.Withdraw(second.Token) || m.Withdraw(second.Token) {
		t.Fatal("withdraw should work once")
	}
	if g, _ := m.Get(s.ID); len(g.Requests) != 0 || g.State != Waiting {
		t.Fatalf("after withdrawal: %+v", g)
	}
}

func TestCheckNumbersAreUniform(t *testing.T) {
	counts := map[uint32]int{}
	r := &countingReader{}
	for range 9000 {
		n, err := uniform(r, 90)
		if err != nil {
			t.Fatal(err)
		}
		counts[n]++
	}
	if len(counts) != 90 {
		t.Fatalf("%d distinct values, want 90", len(counts))
	}
}

// countingReader yields every 32-bit value in turn, spread over the range.
type countingReader struct{ n uint32 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c.n >> (8 * (3 - i%4)))
		if i%4 == 3 {
			c.n += 477218589 // ~2^32/9, prime: visits residues evenly
		}
	}
	return len(p), nil
}

// A request's token holds at most two polls open; more are answered at once.
func TestPollsPerRequestAreBounded(t *testing.T) {
	m, _, _ := newTestManager(t, Config{})
	s, _ := m.Create(1, "佐藤")
	tk, _ := m.RequestJoin(s.Code, JoinInfo{Client: "a"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{}, 2)
	for range 2 {
		go func() {
			started <- struct{}{}
			m.WaitRequest(ctx, tk.Token, time.Minute)
		}()
	}
	<-started
	<-started
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		n := 0
		for _, w := range m.waiters {
			n = w
		}
		m.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d polls held, want 2", n)
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan Status)
	go func() { st, _ := m.WaitRequest(ctx, tk.Token, time.Minute); done <- st }()
	select {
	case st := <-done:
		if st.Outcome != RequestPending || st.Check != tk.Check {
			t.Fatalf("third poll: %+v", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a third poll was held open")
	}
}
