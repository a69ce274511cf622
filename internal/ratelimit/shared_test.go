package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
)

// memStore is a Store with compare-and-set, shared by "nodes".
type memStore struct {
	mu   sync.Mutex
	rev  uint64
	data map[string]entry
	fail bool
}

type entry struct {
	v   []byte
	rev uint64
}

func newMemStore() *memStore { return &memStore{data: make(map[string]entry)} }

var errDown = errors.New("store down")

func (m *memStore) Get(_ context.Context, key string) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return nil, 0, errDown
	}
	e, ok := m.data[key]
	if !ok {
		return nil, 0, ratelimit.ErrNoKey
	}
	return e.v, e.rev, nil
}

func (m *memStore) Create(_ context.Context, key string, v []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[key]; ok {
		return 0, ratelimit.ErrExists
	}
	m.rev++
	m.data[key] = entry{v, m.rev}
	return m.rev, nil
}

func (m *memStore) Update(_ context.Context, key string, v []byte, rev uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.data[key]; !ok || e.rev != rev {
		return 0, ratelimit.ErrConflict
	}
	m.rev++
	m.data[key] = entry{v, m.rev}
	return m.rev, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Spreading attempts over nodes buys nothing: three nodes together allow
// one burst, then the rate.
func TestSharedLimitHoldsAcrossNodes(t *testing.T) {
	st := newMemStore()
	clk := &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
	const rate, burst = 1.0 / 6, 10 // 10 a minute
	var nodes []*ratelimit.Shared
	for range 3 {
		nodes = append(nodes, ratelimit.NewShared(st, "join.", rate, burst, 100, clk.now))
	}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if nodes[i%3].Allow("203.0.113.9") {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != burst {
		t.Fatalf("%d of 60 attempts over three nodes allowed, want the burst of %d", allowed.Load(), burst)
	}
	if !nodes[0].Allow("198.51.100.1") {
		t.Fatal("another address was refused")
	}
	clk.add(6 * time.Second)
	if !nodes[1].Allow("203.0.113.9") || nodes[2].Allow("203.0.113.9") {
		t.Fatal("after one refill interval exactly one more attempt should pass")
	}
}

func TestSharedTakeRefunds(t *testing.T) {
	st := newMemStore()
	clk := &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
	a := ratelimit.NewShared(st, "join.", 0.1, 2, 100, clk.now)
	b := ratelimit.NewShared(st, "join.", 0.1, 2, 100, clk.now)
	for range 5 {
		ok, refund := a.Take("x")
		if !ok {
			t.Fatal("a refunded attempt used up the budget")
		}
		refund()
	}
	a.Allow("x")
	b.Allow("x")
	if ok, _ := a.Take("x"); ok {
		t.Fatal("the burst was used on two nodes, yet a third attempt passed")
	}
}

func TestSharedWaitsForItsTurn(t *testing.T) {
	st := newMemStore()
	s := ratelimit.NewShared(st, "login.", 20, 1, 100, nil) // one every 50 ms
	if !s.Wait(context.Background(), "u", time.Second) {
		t.Fatal("first attempt refused")
	}
	if !s.Wait(context.Background(), "u", time.Second) {
		t.Fatal("an attempt that fits the wait was refused")
	}
	if s.Wait(context.Background(), "u", time.Millisecond) {
		t.Fatal("an attempt that would wait longer than allowed passed")
	}
}

// With the store unreachable a node limits by itself: neither open nor shut.
func TestSharedFallsBackToTheNodesOwnLimit(t *testing.T) {
	st := newMemStore()
	st.fail = true
	s := ratelimit.NewShared(st, "join.", 0.001, 3, 100, nil)
	n := 0
	for range 10 {
		if s.Allow("x") {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d allowed with the store down, want the burst of 3", n)
	}
}
