package auth

import (
	"context"
	"errors"
	"time"
)

// ErrBusy means every password-hash slot stayed taken for the whole wait.
var ErrBusy = errors.New("too many logins at once")

// Verifier checks passwords with a bound on how many argon2id hashes run
// at once: each takes 64 MiB, and logins for unknown names cost a hash too,
// so without a bound a burst of bad logins takes the server's memory.
type Verifier struct {
	slots  chan struct{}
	wait   time.Duration
	verify func(password, hash string) (bool, error)
}

// NewVerifier allows slots hashes at once; a login waits at most wait for one.
func NewVerifier(slots int, wait time.Duration) *Verifier {
	return &Verifier{slots: make(chan struct{}, max(1, slots)), wait: wait, verify: VerifyPassword}
}

// Verify reports whether password matches hash, or ErrBusy when no slot
// came free within the wait (or ctx ended first).
func (v *Verifier) Verify(ctx context.Context, password, hash string) (bool, error) {
	t := time.NewTimer(v.wait)
	defer t.Stop()
	select {
	case v.slots <- struct{}{}:
	case <-t.C:
		return false, ErrBusy
	case <-ctx.Done():
		return false, ErrBusy
	}
	defer func() { <-v.slots }()
	return v.verify(password, hash)
}
