package natskv_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/natstest"
	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/natskv"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
)

var bucket atomic.Int64

// deployment returns a function that adds nodes (each with its own
// connection) to one fresh deployment on srv.
func deployment(t *testing.T, srv *natstest.Server, lease time.Duration) func() *natskv.KV {
	name := fmt.Sprintf("t%d", bucket.Add(1))
	n := 0
	return func() *natskv.KV {
		n++
		kv, err := natskv.Open(context.Background(), srv.Connect(t), natskv.Config{Bucket: name, Lease: lease, Node: fmt.Sprintf("node%d", n)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kv.Close() })
		return kv
	}
}

func TestContract(t *testing.T) {
	srv := natstest.Start(t)
	sessiontest.RunKV(t, func(t *testing.T) (session.KV, session.KV) {
		add := deployment(t, srv, 0)
		return add(), add()
	})
}

func nodes(t *testing.T, srv *natstest.Server, lease time.Duration) sessiontest.Deployment {
	add := deployment(t, srv, lease)
	return func(cfg session.Config) sessiontest.Node {
		kv := add()
		cfg.KV = kv
		m, err := session.NewManager(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		return sessiontest.Node{Manager: m, Kill: kv.Abandon}
	}
}

func TestCluster(t *testing.T) {
	srv := natstest.Start(t)
	sessiontest.RunCluster(t, func(t *testing.T) sessiontest.Deployment { return nodes(t, srv, 0) })
}

func TestNodes(t *testing.T) {
	srv := natstest.Start(t)
	const lease = 900 * time.Millisecond
	sessiontest.RunNodes(t, lease, func(t *testing.T) sessiontest.Deployment { return nodes(t, srv, lease) })
}

// Attempts spread over two nodes share one budget.
func TestSharedRateLimits(t *testing.T) {
	srv := natstest.Start(t)
	add := deployment(t, srv, 0)
	var limiters []*ratelimit.Shared
	for range 2 {
		l, err := add().Limits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		limiters = append(limiters, ratelimit.NewShared(l, "join.", 1.0/60, 5, 100, nil))
	}
	allowed := 0
	for i := range 20 {
		if limiters[i%2].Allow("2001:db8::/64 日本") {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("%d of 20 attempts over two nodes allowed, want the burst of 5", allowed)
	}
}
