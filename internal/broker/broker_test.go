package broker

import (
	"context"
	"errors"
	"testing"
	"time"
)

// testBroker is the contract every Broker implementation must meet.
func testBroker(t *testing.T, newBroker func(t *testing.T) Broker) {
	ctx := context.Background()
	t.Run("delivers to subscribers of the subject only", func(t *testing.T) {
		b := newBroker(t)
		var a, other []string
		sa := mustSubscribe(t, b, "x", func(m []byte) { a = append(a, string(m)) })
		so := mustSubscribe(t, b, "y", func(m []byte) { other = append(other, string(m)) })
		defer sa.Unsubscribe()
		defer so.Unsubscribe()
		if err := b.Publish(ctx, "x", []byte("1")); err != nil {
			t.Fatal(err)
		}
		if len(a) != 1 || a[0] != "1" || len(other) != 0 {
			t.Fatalf("a=%v other=%v", a, other)
		}
	})
	t.Run("unsubscribe stops delivery and is idempotent", func(t *testing.T) {
		b := newBroker(t)
		n := 0
		s := mustSubscribe(t, b, "x", func([]byte) { n++ })
		s.Unsubscribe()
		s.Unsubscribe()
		if err := b.Publish(ctx, "x", []byte("1")); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("delivered %d after unsubscribe", n)
		}
	})
	t.Run("closed broker refuses", func(t *testing.T) {
		b := newBroker(t)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "x", nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("publish after close: %v", err)
		}
	})
}

func mustSubscribe(t *testing.T, b Broker, subject string, h Handler) Subscription {
	t.Helper()
	s, err := b.Subscribe(subject, h)
	if err != nil {
		t.Fatalf("subscribe %s: %v", subject, err)
	}
	return s
}

// A handler that publishes (the staff socket asks the customer for a resync
// from inside a delivery) while another goroutine subscribes must not
// freeze every publish: with the read lock held across handlers, the waiting
// writer blocked the inner publish, and the outer one never returned.
func TestMemoryPublishFromAHandlerWhileSubscribing(t *testing.T) {
	b := NewMemory()
	subscribing := make(chan struct{})
	mustSubscribe(t, b, "out", func([]byte) {})
	mustSubscribe(t, b, "in", func([]byte) {
		go func() {
			close(subscribing)
			if _, err := b.Subscribe("other", func([]byte) {}); err != nil {
				t.Error(err)
			}
		}()
		<-subscribing
		time.Sleep(20 * time.Millisecond) // let the Subscribe queue for the write lock
		if err := b.Publish(context.Background(), "out", []byte("resync")); err != nil {
			t.Error(err)
		}
	})
	done := make(chan error, 1)
	go func() { done <- b.Publish(context.Background(), "in", []byte("events")) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("publish from inside a delivery deadlocked with a waiting Subscribe")
	}
}

func TestMemory(t *testing.T) {
	testBroker(t, func(t *testing.T) Broker { return NewMemory() })
}

func TestMemoryForgetsEmptySubjects(t *testing.T) {
	b := NewMemory()
	s := mustSubscribe(t, b, "x", func([]byte) {})
	s.Unsubscribe()
	if b.Subjects() != 0 {
		t.Fatalf("%d subjects left", b.Subjects())
	}
}
