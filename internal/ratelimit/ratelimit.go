// Package ratelimit provides token buckets: one per key (client address,
// username) with a bounded number of keys, and single buckets.
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

// Debit takes n tokens, going into debt when there are too few, and says
// how long the caller must wait until the debt is paid. When that would be
// longer than max, or n exceeds the burst, it takes nothing and reports
// false.
func (b *Bucket) Debit(n int, max time.Duration) (time.Duration, bool) {
	now := b.now()
	r := b.l.ReserveN(now, n)
	if !r.OK() {
		return 0, false
	}
	d := r.DelayFrom(now)
	if d > max {
		r.CancelAt(now)
		return 0, false
	}
	return d, true
}

// Tokens reports the tokens currently available.
func (b *Bucket) Tokens() float64 { return b.l.TokensAt(b.now()) }

// full reports whether the bucket has refilled completely (nobody is being limited).
func (b *Bucket) full() bool { return b.Tokens() >= float64(b.burst) }

// Keyed holds one bucket per key. It keeps at most maxKeys buckets; when
// full it forgets buckets that have refilled completely, and if none has,
// the fullest of a sample of buckets. It never refuses a key it has no room
// for: that would let anyone with enough addresses lock out every new
// client. Evicting hands the evicted key one fresh burst at most, which an
// attacker able to fill the table could get from a new address anyway.
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
func (k *Keyed) Allow(key string) bool { return k.bucket(key).Allow() }

// Take takes a token from key's bucket for an attempt whose cost depends on
// its outcome: refund gives the token back (a right join code costs
// nothing), so concurrent attempts cannot all pass a check made before any
// of them failed.
func (k *Keyed) Take(key string) (ok bool, refund func()) {
	b := k.bucket(key)
	now := b.now()
	r := b.l.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return false, func() {}
	}
	return true, func() { r.CancelAt(b.now()) }
}

// Wait takes a token from key's bucket, waiting for the refill when it is
// empty: at most max, and not at all when the refill would take longer. It
// reports whether it got one; ctx's end stops the wait.
func (k *Keyed) Wait(ctx context.Context, key string, max time.Duration) bool {
	b := k.bucket(key)
	now := b.now()
	r := b.l.ReserveN(now, 1)
	if !r.OK() {
		return false
	}
	d := r.DelayFrom(now)
	if d == 0 {
		return true
	}
	if d > max {
		r.CancelAt(now)
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		r.CancelAt(b.now())
		return false
	}
}

// evictSample bounds the work of finding room in a full table.
const evictSample = 32

func (k *Keyed) bucket(key string) *Bucket {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.buckets[key]
	if ok {
		return b
	}
	if len(k.buckets) >= k.maxKeys {
		k.sweepLocked()
	}
	if len(k.buckets) >= k.maxKeys {
		var victim string
		most, n := -1.0, 0
		for key, b := range k.buckets { // map order is random: a fair sample
			if t := b.Tokens(); t > most {
				victim, most = key, t
			}
			if n++; n == evictSample {
				break
			}
		}
		delete(k.buckets, victim)
	}
	b = NewBucket(k.rate, k.burst, k.now)
	k.buckets[key] = b
	return b
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
