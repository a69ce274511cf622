package ratelimit

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Limiter is what the server asks of a per-key limit: a node's own
// (Keyed) or one shared by every node of a cluster (Shared).
type Limiter interface {
	Allow(key string) bool
	Take(key string) (ok bool, refund func())
	Wait(ctx context.Context, key string, max time.Duration) bool
	Sweep()
}

var (
	_ Limiter = (*Keyed)(nil)
	_ Limiter = (*Shared)(nil)
)

// Store keeps the shared limits: a value per key, written with
// compare-and-set. Keys it has not been written for a while may expire.
type Store interface {
	Get(ctx context.Context, key string) (value []byte, rev uint64, err error)
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
}

// Store errors.
var (
	ErrNoKey    = errors.New("rate limit store: no such key")
	ErrExists   = errors.New("rate limit store: key exists")
	ErrConflict = errors.New("rate limit store: changed meanwhile")
)

// Shared is a per-key limit that holds for a whole cluster: every node
// debits the same bucket, so an attacker gains nothing by spreading
// attempts over the nodes. Each bucket is one number, the time at which
// it will be full again (the generic cell rate algorithm), updated with
// compare-and-set. When the store cannot be reached the node falls back
// to a limit of its own, so an outage neither opens the door wide nor
// locks everyone out.
type Shared struct {
	store    Store
	prefix   string
	interval time.Duration // one token's refill
	burst    int
	now      func() time.Time
	local    *Keyed
	timeout  time.Duration
}

// NewShared returns a shared limiter of rate tokens per second and burst,
// its keys under prefix in store.
func NewShared(store Store, prefix string, rate float64, burst, maxKeys int, now func() time.Time) *Shared {
	if now == nil {
		now = time.Now
	}
	interval := time.Duration(math.MaxInt64)
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	return &Shared{store: store, prefix: prefix, interval: interval, burst: burst, now: now, local: NewKeyed(rate, burst, maxKeys, now), timeout: 2 * time.Second}
}

// reserve debits one token from key's bucket and returns how long the
// caller must wait for it (0: at once). A wait longer than max takes
// nothing and reports ok false.
func (s *Shared) reserve(ctx context.Context, key string, max time.Duration) (wait time.Duration, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	k := s.prefix + key
	for range 20 {
		now := s.now()
		v, rev, err := s.store.Get(ctx, k)
		full := now // an unknown bucket is full
		switch {
		case errors.Is(err, ErrNoKey):
		case err != nil:
			return 0, false, err
		case len(v) == 8:
			full = time.UnixMicro(int64(binary.BigEndian.Uint64(v)))
		}
		if full.Before(now) {
			full = now
		}
		// Taking a token moves the time the bucket is full again one
		// interval later; a bucket more than a burst behind is empty.
		next := full.Add(s.interval)
		wait = next.Sub(now) - time.Duration(s.burst)*s.interval
		if wait < 0 {
			wait = 0
		}
		if wait > max {
			return wait, false, nil
		}
		val := binary.BigEndian.AppendUint64(nil, uint64(next.UnixMicro()))
		if rev == 0 {
			_, err = s.store.Create(ctx, k, val)
		} else {
			_, err = s.store.Update(ctx, k, val, rev)
		}
		if errors.Is(err, ErrExists) || errors.Is(err, ErrConflict) {
			continue // another node took a token meanwhile
		}
		if err != nil {
			return 0, false, err
		}
		return wait, true, nil
	}
	return 0, false, errors.New("rate limit store: too many concurrent updates")
}

// refund gives one token back to key's bucket.
func (s *Shared) refund(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	k := s.prefix + key
	for range 20 {
		v, rev, err := s.store.Get(ctx, k)
		if err != nil || len(v) != 8 {
			return
		}
		full := time.UnixMicro(int64(binary.BigEndian.Uint64(v))).Add(-s.interval)
		_, err = s.store.Update(ctx, k, binary.BigEndian.AppendUint64(nil, uint64(full.UnixMicro())), rev)
		if !errors.Is(err, ErrConflict) {
			return
		}
	}
}

// Allow takes a token from key's bucket if it has one.
func (s *Shared) Allow(key string) bool {
	_, ok, err := s.reserve(context.Background(), key, 0)
	if err != nil {
		return s.local.Allow(key)
	}
	return ok
}

// Take takes a token for an attempt whose cost depends on its outcome;
// refund gives it back.
func (s *Shared) Take(key string) (bool, func()) {
	_, ok, err := s.reserve(context.Background(), key, 0)
	if err != nil {
		return s.local.Take(key)
	}
	if !ok {
		return false, func() {}
	}
	return true, func() { s.refund(key) }
}

// Wait takes a token, waiting for the refill when the bucket is empty: at
// most max, and not at all when the refill would take longer.
func (s *Shared) Wait(ctx context.Context, key string, max time.Duration) bool {
	wait, ok, err := s.reserve(ctx, key, max)
	if err != nil {
		return s.local.Wait(ctx, key, max)
	}
	if !ok {
		return false
	}
	if wait == 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		s.refund(key)
		return false
	}
}

// Sweep forgets the fallback's full buckets; the store expires its own.
func (s *Shared) Sweep() { s.local.Sweep() }
