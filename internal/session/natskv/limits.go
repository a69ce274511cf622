package natskv

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
)

// Limits keeps the cluster's shared rate limits in a bucket of their own,
// whose keys expire an hour after their last write: a bucket untouched
// that long is full again anyway.
type Limits struct {
	kv jetstream.KeyValue
}

var _ ratelimit.Store = (*Limits)(nil)

// Limits opens the deployment's rate-limit bucket.
func (k *KV) Limits(ctx context.Context) (*Limits, error) {
	kv, err := bucket(ctx, k.js, k.cfg, "limits", "Tomoni rate limits shared by the nodes", time.Hour)
	if err != nil {
		return nil, err
	}
	return &Limits{kv: kv}, nil
}

func limitErr(err, wrongRev error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return ratelimit.ErrNoKey
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return wrongRev
	}
	return err
}

// Get reads a limit.
func (l *Limits) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := l.kv.Get(ctx, safeKey(key))
	if err != nil {
		return nil, 0, limitErr(err, err)
	}
	return e.Value(), e.Revision(), nil
}

// Create writes a new limit.
func (l *Limits) Create(ctx context.Context, key string, v []byte) (uint64, error) {
	rev, err := l.kv.Create(ctx, safeKey(key), v)
	return rev, limitErr(err, ratelimit.ErrExists)
}

// Update writes a limit at revision rev.
func (l *Limits) Update(ctx context.Context, key string, v []byte, rev uint64) (uint64, error) {
	n, err := l.kv.Update(ctx, safeKey(key), v, rev)
	return n, limitErr(err, ratelimit.ErrConflict)
}

// safeKey makes any limiter key (addresses with colons, usernames) a valid
// key: hex of the bytes that a key may not hold.
func safeKey(key string) string {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
			out = append(out, c)
		default:
			out = append(out, '_', hexdigits[c>>4], hexdigits[c&15])
		}
	}
	return string(out)
}
