package natsbroker_test

import (
	"context"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/broker/brokertest"
	"github.com/tomoni-cobrowse/tomoni/internal/broker/natsbroker"
	"github.com/tomoni-cobrowse/tomoni/internal/natstest"
)

func TestContract(t *testing.T) {
	srv := natstest.Start(t)
	brokertest.Run(t, brokertest.Options{Large: 8 << 20}, func(t *testing.T) broker.Broker {
		b := natsbroker.New(srv.Connect(t), natsbroker.Config{})
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// When NATS restarts, subscriptions come back by themselves: the relay's
// sockets stay open and messages flow again once the client reconnects.
func TestSubscriptionsSurviveANATSRestart(t *testing.T) {
	srv := natstest.Start(t)
	pub := natsbroker.New(srv.Connect(t), natsbroker.Config{})
	subNC := srv.Connect(t)
	sb := natsbroker.New(subNC, natsbroker.Config{})
	got := make(chan string, 100)
	s, err := sb.Subscribe("tomoni.s.x.staff", func(m []byte) { got <- string(m) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := pub.Publish(context.Background(), "tomoni.s.x.staff", []byte("after")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m != "after" {
				t.Fatalf("got %q", m)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("nothing delivered within 10 s of the restart (subscriber connected: %v)", subNC.IsConnected())
}
