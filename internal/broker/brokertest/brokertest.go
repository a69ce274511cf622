// Package brokertest is the contract every broker.Broker meets. Delivery
// may happen after Publish returns (a networked broker cannot promise
// more), so the suite waits for what must arrive and uses a later marker
// message to show that something else did not.
package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
)

// Options describe what the broker under test must carry.
type Options struct {
	// Large is the size of the largest message the relay publishes (a
	// reassembled page); the suite publishes one this big.
	Large int
}

// wait is how long a message may take to arrive.
const wait = 5 * time.Second

// inbox collects what a subscription receives.
type inbox struct {
	mu   sync.Mutex
	msgs [][]byte
	got  chan struct{}
}

func newInbox() *inbox { return &inbox{got: make(chan struct{}, 1<<16)} }

func (in *inbox) handler(m []byte) {
	in.mu.Lock()
	in.msgs = append(in.msgs, bytes.Clone(m))
	in.mu.Unlock()
	in.got <- struct{}{}
}

// await waits until n messages have arrived in total.
func (in *inbox) await(t *testing.T, n int) [][]byte {
	t.Helper()
	deadline := time.After(wait)
	for {
		in.mu.Lock()
		have := len(in.msgs)
		out := append([][]byte(nil), in.msgs...)
		in.mu.Unlock()
		if have >= n {
			return out
		}
		select {
		case <-in.got:
		case <-deadline:
			t.Fatalf("%d of %d messages arrived within %s", have, n, wait)
		}
	}
}

func (in *inbox) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

// Run runs the contract; each call of newBroker returns a fresh broker, and
// calls made with the same name share one deployment (nodes of a cluster).
func Run(t *testing.T, opt Options, newBroker func(t *testing.T) broker.Broker) {
	ctx := context.Background()
	subscribe := func(t *testing.T, b broker.Broker, subject string, h broker.Handler) broker.Subscription {
		t.Helper()
		s, err := b.Subscribe(subject, h)
		if err != nil {
			t.Fatalf("subscribe %s: %v", subject, err)
		}
		t.Cleanup(s.Unsubscribe)
		return s
	}
	publish := func(t *testing.T, b broker.Broker, subject string, msg []byte) {
		t.Helper()
		if err := b.Publish(ctx, subject, msg); err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
	}

	t.Run("delivers to subscribers of the subject only", func(t *testing.T) {
		b := newBroker(t)
		a, a2, other := newInbox(), newInbox(), newInbox()
		subscribe(t, b, "s.x", a.handler)
		subscribe(t, b, "s.x", a2.handler)
		subscribe(t, b, "s.y", other.handler)
		publish(t, b, "s.x", []byte("1"))
		publish(t, b, "s.y", []byte("marker"))
		other.await(t, 1)
		if got := a.await(t, 1); string(got[0]) != "1" {
			t.Fatalf("got %q", got)
		}
		a2.await(t, 1)
		if n := other.count(); n != 1 {
			t.Fatalf("the other subject got %d messages", n)
		}
	})

	t.Run("one publisher's messages arrive in order", func(t *testing.T) {
		b := newBroker(t)
		in := newInbox()
		subscribe(t, b, "s.order", in.handler)
		const n = 500
		for i := range n {
			publish(t, b, "s.order", fmt.Appendf(nil, "%d", i))
		}
		got := in.await(t, n)
		for i, m := range got {
			if string(m) != fmt.Sprint(i) {
				t.Fatalf("message %d is %q", i, m)
			}
		}
	})

	t.Run("unsubscribe stops delivery and is idempotent", func(t *testing.T) {
		b := newBroker(t)
		gone, stays := newInbox(), newInbox()
		s := subscribe(t, b, "s.u", gone.handler)
		subscribe(t, b, "s.u", stays.handler)
		s.Unsubscribe()
		s.Unsubscribe()
		publish(t, b, "s.u", []byte("1"))
		stays.await(t, 1)
		time.Sleep(20 * time.Millisecond)
		if n := gone.count(); n != 0 {
			t.Fatalf("delivered %d after unsubscribe", n)
		}
	})

	t.Run("a large message arrives whole", func(t *testing.T) {
		if opt.Large == 0 {
			t.Skip("the broker under test names no large size")
		}
		b := newBroker(t)
		in := newInbox()
		subscribe(t, b, "s.big", in.handler)
		big := bytes.Repeat([]byte("0123456789abcdef"), opt.Large/16)
		big[len(big)-1] = '!'
		publish(t, b, "s.big", []byte("before"))
		publish(t, b, "s.big", big)
		publish(t, b, "s.big", []byte("after"))
		got := in.await(t, 3)
		if string(got[0]) != "before" || !bytes.Equal(got[1], big) || string(got[2]) != "after" {
			t.Fatalf("got %d, %d, %d bytes", len(got[0]), len(got[1]), len(got[2]))
		}
	})

	t.Run("large messages of concurrent publishers do not mix", func(t *testing.T) {
		if opt.Large == 0 {
			t.Skip("the broker under test names no large size")
		}
		b := newBroker(t)
		in := newInbox()
		subscribe(t, b, "s.mix", in.handler)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := bytes.Repeat([]byte{byte('a' + i)}, opt.Large/4)
				if err := b.Publish(ctx, "s.mix", msg); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for _, m := range in.await(t, 4) {
			if len(m) != opt.Large/4 || bytes.Count(m, m[:1]) != len(m) {
				t.Fatalf("a message of %d bytes mixes publishers", len(m))
			}
		}
	})

	// The staff socket asks the customer for a resync from inside a
	// delivery while other sockets come and go.
	t.Run("a handler may publish and subscribe", func(t *testing.T) {
		b := newBroker(t)
		out := newInbox()
		subscribe(t, b, "s.out", out.handler)
		subscribe(t, b, "s.in", func([]byte) {
			go func() {
				if s, err := b.Subscribe("s.other", func([]byte) {}); err == nil {
					s.Unsubscribe()
				}
			}()
			if err := b.Publish(ctx, "s.out", []byte("resync")); err != nil {
				t.Error(err)
			}
			if s, err := b.Subscribe("s.more", func([]byte) {}); err == nil {
				s.Unsubscribe()
			}
		})
		done := make(chan error, 1)
		go func() {
			for range 50 {
				if err := b.Publish(ctx, "s.in", []byte("events")); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wait):
			t.Fatal("publishing from inside deliveries hung")
		}
		out.await(t, 50)
	})

	t.Run("closed broker refuses", func(t *testing.T) {
		b := newBroker(t)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "s.x", nil); !errors.Is(err, broker.ErrClosed) {
			t.Fatalf("publish after close: %v", err)
		}
		if _, err := b.Subscribe("s.x", func([]byte) {}); !errors.Is(err, broker.ErrClosed) {
			t.Fatalf("subscribe after close: %v", err)
		}
	})
}
