package broker

import (
	"context"
	"errors"
	"testing"
)

// testBroker is the contract every Broker implementation must meet.
func testBroker(t *testing.T, newBroker func(t *testing.T) Broker) {
	ctx := context.Background()
	t.Run("delivers to subscribers of the subject only", func(t *testing.T) {
		b := newBroker(t)
		var a, other []string
		sa, _ := b.Subscribe("x", func(m []byte) { a = append(a, string(m)) })
		so, _ := b.Subscribe("y", func(m []byte) { other = append(other, string(m)) })
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
		s, _ := b.Subscribe("x", func([]byte) { n++ })
		s.Unsubscribe()
		s.Unsubscribe()
		b.Publish(ctx, "x", []byte("1"))
		if n != 0 {
			t.Fatalf("delivered %d after unsubscribe", n)
		}
	})
	t.Run("closed broker refuses", func(t *testing.T) {
		b := newBroker(t)
		b.Close()
		if err := b.Publish(ctx, "x", nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("publish after close: %v", err)
		}
	})
}

func TestMemory(t *testing.T) {
	testBroker(t, func(t *testing.T) Broker { return NewMemory() })
}

func TestMemoryForgetsEmptySubjects(t *testing.T) {
	b := NewMemory()
	s, _ := b.Subscribe("x", func([]byte) {})
	s.Unsubscribe()
	if b.Subjects() != 0 {
		t.Fatalf("%d subjects left", b.Subjects())
	}
}
