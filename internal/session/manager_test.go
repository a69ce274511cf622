package session

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) add(c Change) { r.mu.Lock(); r.changes = append(r.changes, c); r.mu.Unlock() }
func (r *recorder) last() Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changes[len(r.changes)-1]
}

func newTestManager(t *testing.T, cfg Config) (*Manager, *clock, *recorder) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	m, err := NewManager(fillLimits(cfg))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	m.Subscribe(rec.add)
	return m, clk, rec
}

// fillLimits sets the limits a test leaves at zero to the product's values.
func fillLimits(c Config) Config {
	d := FromConfig(config.Default())
	set := func(got *time.Duration, def time.Duration) {
		if *got == 0 {
			*got = def
		}
	}
	seti := func(got *int, def int) {
		if *got == 0 {
			*got = def
		}
	}
	set(&c.CodeTTL, d.CodeTTL)
	set(&c.Grace, d.Grace)
	set(&c.StaffIdle, d.StaffIdle)
	set(&c.MaxDuration, d.MaxDuration)
	set(&c.WarnBefore, d.WarnBefore)
	set(&c.EndedRetention, d.EndedRetention)
	set(&c.TokenAfterEnd, d.TokenAfterEnd)
	set(&c.ConfirmWithin, d.ConfirmWithin)
	set(&c.HandoffTTL, d.HandoffTTL)
	seti(&c.MaxLive, d.MaxLive)
	seti(&c.MaxWaiting, d.MaxWaiting)
	seti(&c.MaxPerStaff, d.MaxPerStaff)
	seti(&c.MaxEndedHistory, d.MaxEndedHistory)
	seti(&c.MaxHandoffs, d.MaxHandoffs)
	seti(&c.MaxRequests, d.MaxRequests)
	set(&c.RequestIdle, d.RequestIdle)
	return c
}

func TestConfigMustBeComplete(t *testing.T) {
	if _, err := NewManager(Config{}); err == nil {
		t.Fatal("an empty config was accepted: the manager would invent its own limits")
	}
	c := fillLimits(Config{})
	c.MaxLive = 0
	if _, err := NewManager(c); err == nil {
		t.Fatal("max live 0 accepted")
	}
}

func TestSubscribersSeeEveryChangeUntilCancelled(t *testing.T) {
	m, _, _ := newTestManager(t, Config{})
	var a, b recorder
	cancelA := m.Subscribe(a.add)
	m.Subscribe(b.add)
	if _, err := m.Create(1, "A"); err != nil {
		t.Fatal(err)
	}
	cancelA()
	if _, err := m.Create(1, "A"); err != nil {
		t.Fatal(err)
	}
	if len(a.changes) != 1 || len(b.changes) != 2 {
		t.Fatalf("cancelled subscriber saw %d changes (want 1), other %d (want 2)", len(a.changes), len(b.changes))
	}
}

func TestCodeIsSixDigits(t *testing.T) {
	m, _, _ := newTestManager(t, Config{MaxWaiting: 500, MaxPerStaff: 500})
	seen := map[string]bool{}
	for range 300 {
		s, err := m.Create(1, "A")
		if err != nil {
			t.Fatal(err)
		}
		if !validCodeFormat(s.Code) {
			t.Fatalf("code %q is not six digits", s.Code)
		}
		if seen[s.Code] {
			t.Fatalf("code %q issued twice while live", s.Code)
		}
		seen[s.Code] = true
	}
}

func TestNewCodeRejectsBiasedDraws(t *testing.T) {
	// 0xFFFFFFFF is above the rejection limit and must be skipped; 0x00000007 → "000007".
	r := bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 7})
	c, err := newCode(r)
	if err != nil || c != "000007" {
		t.Fatalf("newCode = %q, %v; want 000007", c, err)
	}
}

func TestUniqueCodeRetriesOnCollision(t *testing.T) {
	// A source that yields the same code twice, then another.
	src := bytes.NewReader(append(bytes.Repeat([]byte{0, 0, 0, 1}, 2), []byte{0, 0, 0, 2, 0, 0, 0, 3}...))
	m, _, _ := newTestManager(t, Config{})
	m.cfg.Rand = &prefixReader{r: src}
	a, err := m.Create(1, "A")
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(2, "B")
	if err != nil {
		t.Fatal(err)
	}
	if a.Code == b.Code {
		t.Fatalf("duplicate live code %s", a.Code)
	}
}

// prefixReader serves codes from r and session ids from zeros afterwards.
type prefixReader struct{ r *bytes.Reader }

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(b) == 4 && p.r.Len() >= 4 {
		return p.r.Read(b)
	}
	for i := range b {
		b[i] = byte(i + p.r.Len())
	}
	return len(b), nil
}

func TestJoinWrongExpiredAndUsedCodesLookTheSame(t *testing.T) {
	m, clk, _ := newTestManager(t, Config{CodeTTL: time.Minute})
	used, _ := m.Create(1, "A")
	if _, _, err := join(m, used.Code, "pc"); err != nil {
		t.Fatalf("first join: %v", err)
	}
	expired, _ := m.Create(1, "A")
	clk.Add(time.Minute)
	wrong := "000000"
	if wrong == used.Code || wrong == expired.Code {
		wrong = "999999"
	}
	for name, code := range map[string]string{"used": used.Code, "expired": expired.Code, "wrong": wrong, "letters": "12ab56", "short": "123"} {
		_, _, err := join(m, code, "pc")
		if !errors.Is(err, apperr.ErrInvalidCode) {
			t.Errorf("%s code: err = %v, want invalid_code", name, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	m, _, rec := newTestManager(t, Config{})
	s, _ := m.Create(7, "Sato")
	if s.State != Waiting {
		t.Fatalf("new session state %s", s.State)
	}
	j, tok, err := join(m, s.Code, "phone")
	if err != nil {
		t.Fatal(err)
	}
	if j.State != Live || j.Device != "phone" || tok == "" {
		t.Fatalf("after join: %+v token %q", j, tok)
	}
	if got, err := m.ByToken(tok); err != nil || got.ID != s.ID {
		t.Fatalf("ByToken = %v, %v", got.ID, err)
	}
	m.Pause(s.ID, "secure_input")
	if g, _ := m.Get(s.ID); g.State != Paused || g.Reason != "secure_input" {
		t.Fatalf("after pause: %s %s", g.State, g.Reason)
	}
	m.Resume(s.ID)
	if g, _ := m.Get(s.ID); g.State != Live {
		t.Fatalf("after resume: %s", g.State)
	}
	e, err := m.End(s.ID, ReasonCustomer)
	if err != nil || e.State != Ended || e.Reason != ReasonCustomer {
		t.Fatalf("end: %+v %v", e, err)
	}
	if rec.last().Session.State != Ended || rec.last().Prev != Live {
		t.Fatalf("listener saw %+v", rec.last())
	}
	if _, err := m.End(s.ID, ReasonStaff); !errors.Is(err, apperr.ErrEnded) {
		t.Fatalf("second end: %v", err)
	}
	if g, _ := m.Get(s.ID); g.Reason != ReasonCustomer {
		t.Fatalf("second end changed reason to %s", g.Reason)
	}
	m.Pause(s.ID, "x")
	if g, _ := m.Get(s.ID); g.State != Ended {
		t.Fatal("ended session paused")
	}
}

func TestSweepEndsExpiredAndLost(t *testing.T) {
	m, clk, _ := newTestManager(t, Config{CodeTTL: time.Minute, Grace: 30 * time.Second})
	w, _ := m.Create(1, "A")
	l, _ := m.Create(1, "A")
	join(m, l.Code, "pc")
	m.SetConnected(l.ID, true, true)
	m.SetConnected(l.ID, true, false)
	clk.Add(31 * time.Second)
	m.Sweep()
	if g, _ := m.Get(l.ID); g.State != Ended || g.Reason != ReasonCustomerLost {
		t.Fatalf("lost customer: %s %s", g.State, g.Reason)
	}
	if g, _ := m.Get(w.ID); g.State != Waiting {
		t.Fatalf("code expired early: %s", g.State)
	}
	clk.Add(30 * time.Second)
	m.Sweep()
	if g, _ := m.Get(w.ID); g.State != Ended || g.Reason != ReasonExpired {
		t.Fatalf("expired code: %s %s", g.State, g.Reason)
	}
}

func TestCapacityLimits(t *testing.T) {
	t.Run("per staff", func(t *testing.T) {
		m, _, _ := newTestManager(t, Config{MaxPerStaff: 2})
		m.Create(1, "A")
		m.Create(1, "A")
		if _, err := m.Create(1, "A"); !errors.Is(err, ErrTooManyOpen) {
			t.Fatalf("third session: %v", err)
		}
		if _, err := m.Create(2, "B"); err != nil {
			t.Fatalf("other staff refused: %v", err)
		}
	})
	t.Run("waiting", func(t *testing.T) {
		m, _, _ := newTestManager(t, Config{MaxWaiting: 1})
		m.Create(1, "A")
		if _, err := m.Create(2, "B"); !errors.Is(err, apperr.ErrBusy) {
			t.Fatalf("second waiting code: %v", err)
		}
	})
	t.Run("live keeps code usable", func(t *testing.T) {
		m, _, _ := newTestManager(t, Config{MaxLive: 1})
		a, _ := m.Create(1, "A")
		b, _ := m.Create(2, "B")
		if _, _, err := join(m, a.Code, "pc"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := join(m, b.Code, "pc"); !errors.Is(err, apperr.ErrBusy) {
			t.Fatalf("join over MaxLive: %v", err)
		}
		if g, _ := m.Get(b.ID); g.RefusedBusy != 1 {
			t.Fatalf("the refusal is not on the session for its staff: %+v", g)
		}
		// While every live place is taken, no new code is issued.
		if _, err := m.Create(3, "C"); !errors.Is(err, ErrFull) {
			t.Fatalf("new code while full: %v", err)
		}
		m.End(a.ID, ReasonStaff)
		if _, _, err := join(m, b.Code, "pc"); err != nil {
			t.Fatalf("code unusable after busy: %v", err)
		}
	})
	t.Run("racing joins for the last slot", func(t *testing.T) {
		m, _, _ := newTestManager(t, Config{MaxLive: 1, MaxPerStaff: 100})
		var codes []string
		for range 20 {
			s, _ := m.Create(1, "A")
			codes = append(codes, s.Code)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for _, c := range codes {
			wg.Go(func() {
				if _, _, err := join(m, c, "pc"); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d joins won the last slot, want 1", ok)
		}
	})
}

func TestListenerSeesChangesInOrder(t *testing.T) {
	m, _, rec := newTestManager(t, Config{})
	s, _ := m.Create(1, "A")
	join(m, s.Code, "pc")
	m.End(s.ID, ReasonStaff)
	var states []State
	for _, c := range rec.changes {
		states = append(states, c.Session.State)
	}
	want := []State{Waiting, Waiting, Live, Ended} // created, requested, admitted, ended
	if len(states) != len(want) {
		t.Fatalf("states %v", states)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("states %v, want %v", states, want)
		}
	}
}

func TestHandoffWorksOnce(t *testing.T) {
	m, clk, _ := newTestManager(t, Config{})
	s, _ := m.Create(1, "A")
	_, tok, _ := join(m, s.Code, "pc")
	h, err := m.Handoff(tok)
	if err != nil {
		t.Fatal(err)
	}
	got, tok2, err := m.Redeem(h)
	if err != nil || got.ID != s.ID || tok2 == "" || tok2 == tok {
		t.Fatalf("redeem: %v %q %v", got.ID, tok2, err)
	}
	if g, err := m.ByToken(tok2); err != nil || g.ID != s.ID {
		t.Fatal("new token not bound to the session")
	}
	if _, _, err := m.Redeem(h); !errors.Is(err, ErrHandoff) {
		t.Fatalf("replayed hand-off: %v", err)
	}
	h2, _ := m.Handoff(tok)
	clk.Add(31 * time.Second)
	if _, _, err := m.Redeem(h2); !errors.Is(err, ErrHandoff) {
		t.Fatalf("expired hand-off: %v", err)
	}
	if _, err := m.Handoff("not-a-token"); err == nil {
		t.Fatal("hand-off for an unknown token")
	}
	m.End(s.ID, ReasonStaff)
	if _, err := m.Handoff(tok); err == nil {
		t.Fatal("hand-off for an ended session")
	}
}

func TestIdleAndLifetimeLimits(t *testing.T) {
	t.Run("no staff connected", func(t *testing.T) {
		m, clk, _ := newTestManager(t, Config{StaffIdle: time.Minute})
		s, _ := m.Create(1, "A")
		join(m, s.Code, "pc")
		m.SetConnected(s.ID, true, true)
		m.SetConnected(s.ID, false, true)
		clk.Add(5 * time.Minute)
		m.Sweep()
		if g, _ := m.Get(s.ID); g.State != Live {
			t.Fatalf("ended while staff connected: %s", g.Reason)
		}
		m.SetConnected(s.ID, false, false)
		clk.Add(time.Minute)
		m.Sweep()
		if g, _ := m.Get(s.ID); g.State != Ended || g.Reason != ReasonStaffIdle {
			t.Fatalf("after a minute without staff: %s %s", g.State, g.Reason)
		}
	})
	t.Run("maximum duration warns first", func(t *testing.T) {
		m, clk, rec := newTestManager(t, Config{MaxDuration: 30 * time.Minute, WarnBefore: 5 * time.Minute, StaffIdle: time.Hour})
		s, _ := m.Create(1, "A")
		join(m, s.Code, "pc")
		m.SetConnected(s.ID, true, true)
		m.SetConnected(s.ID, false, true)
		clk.Add(26 * time.Minute)
		m.Sweep()
		if w := rec.last().Warning; w <= 0 || w > 5*time.Minute {
			t.Fatalf("no warning before the limit: %+v", rec.last())
		}
		n := len(rec.changes)
		m.Sweep()
		if len(rec.changes) != n {
			t.Fatal("warned twice")
		}
		clk.Add(4 * time.Minute)
		m.Sweep()
		if g, _ := m.Get(s.ID); g.State != Ended || g.Reason != ReasonMaxDuration {
			t.Fatalf("at the limit: %s %s", g.State, g.Reason)
		}
	})
	t.Run("ended sessions and tokens are forgotten", func(t *testing.T) {
		m, clk, _ := newTestManager(t, Config{EndedRetention: time.Minute, TokenAfterEnd: 30 * time.Second})
		s, _ := m.Create(1, "A")
		_, tok, _ := join(m, s.Code, "pc")
		m.End(s.ID, ReasonStaff)
		if g, err := m.ByToken(tok); err != nil || g.State != Ended {
			t.Fatal("token not recognised right after the end")
		}
		clk.Add(31 * time.Second)
		m.Sweep()
		if _, err := m.ByToken(tok); err == nil {
			t.Fatal("token still valid long after the end")
		}
		clk.Add(time.Minute)
		m.Sweep()
		if _, err := m.Get(s.ID); err == nil {
			t.Fatal("ended session kept past its retention")
		}
	})
}

func TestConfirmingCustomerIsNotLost(t *testing.T) {
	m, clk, _ := newTestManager(t, Config{Grace: 30 * time.Second, ConfirmWithin: 5 * time.Minute})
	s, _ := m.Create(1, "A")
	join(m, s.Code, "pc")
	clk.Add(2 * time.Minute) // reading the staff member's name
	m.Sweep()
	if g, _ := m.Get(s.ID); g.State != Live || g.CustomerSeen {
		t.Fatalf("confirming customer: %s seen=%v", g.Reason, g.CustomerSeen)
	}
	m.SetConnected(s.ID, true, true)
	if g, _ := m.Get(s.ID); !g.CustomerSeen {
		t.Fatal("not seen after connecting")
	}
	t.Run("never confirms", func(t *testing.T) {
		m, clk, _ := newTestManager(t, Config{ConfirmWithin: 5 * time.Minute})
		s, _ := m.Create(1, "A")
		join(m, s.Code, "pc")
		clk.Add(5 * time.Minute)
		m.Sweep()
		if g, _ := m.Get(s.ID); g.State != Ended || g.Reason != ReasonCustomerLost {
			t.Fatalf("after 5 minutes unconfirmed: %s %s", g.State, g.Reason)
		}
	})
}

// join requests to join with code and admits the request, as a customer
// and the staff would.
func join(m *Manager, code, device string) (Session, string, error) {
	tk, err := m.RequestJoin(code, JoinInfo{Device: device})
	if err != nil {
		return Session{}, "", err
	}
	s, _ := m.Get(tk.Session)
	for _, r := range s.Requests {
		if r.Check == tk.Check {
			s, err = m.Admit(tk.Session, r.ID)
			return s, tk.Token, err
		}
	}
	return Session{}, "", fmt.Errorf("request %s not listed", tk.Check)
}
