package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBucketAllowsBurstThenRefills(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBucket(1, 3, clk.Now)
	for i := range 3 {
		if !b.Allow() {
			t.Fatalf("attempt %d refused within burst", i)
		}
	}
	if b.Allow() {
		t.Fatal("fourth attempt allowed beyond burst")
	}
	clk.Add(1500 * time.Millisecond)
	if !b.Allow() {
		t.Fatal("refused after refill")
	}
	if b.Allow() {
		t.Fatal("allowed more than refilled")
	}
}

func TestKeyedIsolatesKeys(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	k := NewKeyed(0.1, 2, 100, clk.Now)
	k.Allow("a")
	k.Allow("a")
	if k.Allow("a") {
		t.Fatal("a not limited")
	}
	if !k.Allow("b") {
		t.Fatal("b limited by a's use")
	}
}

// A table full of drained buckets (an attacker with many addresses) must
// not lock out a new client; the bucket evicted to make room is the
// fullest, so a drained key keeps its limit.
func TestKeyedAdmitsNewKeysWhenFull(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	k := NewKeyed(0.01, 1, 2, clk.Now)
	k.Allow("drained")
	clk.Add(50 * time.Second) // half a token back: not full, cannot be swept
	k.Allow("other")
	if !k.Allow("new") {
		t.Fatal("new key refused while the table is full")
	}
	if k.Len() != 2 {
		t.Fatalf("table grew to %d", k.Len())
	}
	if k.Allow("other") {
		t.Fatal("the emptier bucket was evicted instead of the fuller one")
	}
}

func TestTakeRefundsSuccesses(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	k := NewKeyed(0.001, 2, 10, clk.Now)
	for range 10 {
		ok, refund := k.Take("a")
		if !ok {
			t.Fatal("refunded attempts used up the bucket")
		}
		refund()
	}
	for i := range 2 {
		if ok, _ := k.Take("a"); !ok {
			t.Fatalf("failure %d refused within the burst", i)
		}
	}
	if ok, _ := k.Take("a"); ok {
		t.Fatal("third failure allowed beyond a burst of 2")
	}
}

func TestWaitTakesTheNextTokenOrGivesUp(t *testing.T) {
	k := NewKeyed(20, 1, 10, nil) // a token every 50 ms
	ctx := context.Background()
	if !k.Wait(ctx, "a", 0) {
		t.Fatal("the first token was not free")
	}
	if k.Wait(ctx, "a", time.Millisecond) {
		t.Fatal("got a token that needs 50 ms within 1 ms")
	}
	if !k.Wait(ctx, "a", time.Second) {
		t.Fatal("no token within a second at 20 a second")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if k.Wait(cancelled, "a", time.Second) {
		t.Fatal("a cancelled wait got a token")
	}
}
