package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// However many logins arrive at once, at most the slots' worth of hashes
// run; the rest wait their turn or are told the server is busy.
func TestVerifierBoundsConcurrentHashes(t *testing.T) {
	v := NewVerifier(2, 200*time.Millisecond)
	release := make(chan struct{})
	var running, peak atomic.Int64
	v.verify = func(string, string) (bool, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		return true, nil
	}
	var wg sync.WaitGroup
	results := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), "pw", "hash")
			results <- err
		})
	}
	// The eight that found no slot give up after the wait; only then do the
	// two running hashes finish.
	busy, ok := 0, 0
	count := func(err error) {
		switch {
		case errors.Is(err, ErrBusy):
			busy++
		case err == nil:
			ok++
		default:
			t.Fatal(err)
		}
	}
	for busy < 8 {
		count(<-results)
	}
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		count(err)
	}
	if peak.Load() > 2 {
		t.Fatalf("%d hashes ran at once; the bound is 2", peak.Load())
	}
	if ok != 2 || busy != 8 {
		t.Fatalf("%d verified, %d busy; want 2 and 8", ok, busy)
	}
}

func TestVerifierChecksPasswords(t *testing.T) {
	v := NewVerifier(1, time.Second)
	h, err := HashPassword("right", fast)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := v.Verify(context.Background(), "right", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := v.Verify(context.Background(), "wrong", h); ok {
		t.Fatal("wrong password accepted")
	}
}
