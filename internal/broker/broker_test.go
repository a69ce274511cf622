package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/broker/brokertest"
)

func mustSubscribe(t *testing.T, b broker.Broker, subject string, h broker.Handler) broker.Subscription {
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
	b := broker.NewMemory()
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
	brokertest.Run(t, brokertest.Options{Large: 8 << 20}, func(t *testing.T) broker.Broker { return broker.NewMemory() })
}

func TestMemoryForgetsEmptySubjects(t *testing.T) {
	b := broker.NewMemory()
	s := mustSubscribe(t, b, "x", func([]byte) {})
	s.Unsubscribe()
	if b.Subjects() != 0 {
		t.Fatalf("%d subjects left", b.Subjects())
	}
}
