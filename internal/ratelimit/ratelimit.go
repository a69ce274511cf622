// Package ratelimit provides token buckets: one per key (client address,
// username) with a bounded number of keys, and a single bucket for global budgets.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bucket is a single token bucket: golang.org/x/time/rate's limiter, read
// with an injected clock so that tests control time.
type Bucket struct {
	l     *rate.Limiter
	burst int
	now   func() time.Time
}

// NewBucket returns a full bucket that refills at r tokens per second up to burst.
func NewBucket(r float64, burst int, now func() time.Time) *Bucket {
	if now == nil {
		now = time.Now
	}
	l := rate.NewLimiter(rate.Limit(r), burst)
	// The limiter fills from its first use; pin that to the injected clock.
	l.SetLimitAt(now(), rate.Limit(r))
	return &Bucket{l: l, burst: burst, now: now}
}

// Allow takes one token if there is one.
func (b *Bucket) Allow() bool { return b.l.AllowN(b.now(), 1) }

// Tokens reports the tokens currently available.
func (b *Bucket) Tokens() float64 { return b.l.TokensAt(b.now()) }

// full reports whether the bucket has refilled completely (nobody is being limited).
func (b *Bucket) full() bool { return b.Tokens() >= float64(b.burst) }

// Keyed holds one bucket per key. It keeps at most maxKeys buckets; when
// full it forgets buckets that have refilled completely, and if none has, it
// refuses new keys rather than forgetting a bucket that is still limiting
// someone: an attacker must not be able to reset their own bucket by
// flooding the table with other keys.
type Keyed struct {
	mu      sync.Mutex
	rate    float64
	burst   int
	maxKeys int
	now     func() time.Time
	buckets map[string]*Bucket
}

// NewKeyed returns a keyed limiter.
func NewKeyed(rate float64, burst, maxKeys int, now func() time.Time) *Keyed {
	if now == nil {
		now = time.Now
	}
	return &Keyed{rate: rate, burst: burst, maxKeys: maxKeys, now: now, buckets: make(map[string]*Bucket)}
}

// Allow takes a token from key's bucket.
func (k *Keyed) Allow(key string) bool {
	k.mu.Lock()
	b, ok := k.buckets[key]
	if !ok {
		if len(k.buckets) >= k.maxKeys {
			k.sweepLocked()
			if len(k.buckets) >= k.maxKeys {
				k.mu.Unlock()
				return false
			}
		}
		b = NewBucket(k.rate, k.burst, k.now)
		k.buckets[key] = b
	}
	k.mu.Unlock()
	return b.Allow()
}

// Len reports how many keys are tracked.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// Sweep forgets buckets that are full again; call it periodically.
func (k *Keyed) Sweep() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweepLocked()
}

func (k *Keyed) sweepLocked() {
	for key, b := range k.buckets {
		if b.full() {
			delete(k.buckets, key)
		}
	}
}

// Budget is a deployment-wide budget of failures (wrong join codes). While
// it lasts, only failures spend it. Once spent, every attempt must first
// take a token, waiting up to a bound, so the total number of guesses over
// any period stays under burst + rate × period whoever is guessing.
type Budget struct {
	b *Bucket
}

// NewBudget returns a full budget of burst failures refilling at rate per second.
func NewBudget(rate float64, burst int, now func() time.Time) *Budget {
	return &Budget{b: NewBucket(rate, burst, now)}
}

// Exhausted reports whether the budget is spent (slow mode).
func (g *Budget) Exhausted() bool { return g.b.Tokens() < 1 }

// Fail spends one token for a failure, if any is left.
func (g *Budget) Fail() { g.b.Allow() }

// Wait takes a token, waiting for the refill up to max. It returns false at
// once when the refill would take longer than max, and on ctx's end.
func (g *Budget) Wait(ctx context.Context, max time.Duration) bool {
	deadline := g.b.now().Add(max)
	for {
		if g.b.Allow() {
			return true
		}
		need := time.Duration((1 - g.b.Tokens()) / float64(g.b.l.Limit()) * float64(time.Second))
		if need <= 0 {
			need = time.Millisecond
		}
		if g.b.now().Add(need).After(deadline) {
			return false
		}
		t := time.NewTimer(need)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
