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

func TestKeyedRefusesNewKeysWhenFullOfActiveBuckets(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	k := NewKeyed(0.01, 1, 2, clk.Now)
	k.Allow("a")
	k.Allow("b")
	if k.Allow("c") {
		t.Fatal("new key admitted while table full of limited keys")
	}
	if k.Len() != 2 {
		t.Fatalf("table grew to %d", k.Len())
	}
	clk.Add(200 * time.Second) // a and b refill fully and can be forgotten
	if !k.Allow("c") {
		t.Fatal("new key refused after old buckets refilled")
	}
}

func TestBudgetBoundsGuessesAcrossEveryone(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	g := NewBudget(1.0/60, 5, clk.Now) // 1 failure a minute, 5 at once
	for range 5 {
		if g.Exhausted() {
			t.Fatal("exhausted within the burst")
		}
		g.Fail()
	}
	if !g.Exhausted() {
		t.Fatal("not exhausted after the burst")
	}
	// In slow mode an attempt waits for the refill, but never longer than allowed.
	if g.Wait(context.Background(), 10*time.Second) {
		t.Fatal("got a token that would take a minute to refill within 10 s")
	}
	clk.Add(61 * time.Second)
	if !g.Wait(context.Background(), 10*time.Second) {
		t.Fatal("no token after the refill")
	}
	if !g.Exhausted() {
		t.Fatal("the slow-mode attempt did not spend the token")
	}
}
