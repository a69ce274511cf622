package session_test

import (
	"testing"

	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
)

func TestMemoryKVContract(t *testing.T) {
	sessiontest.RunKV(t, func(t *testing.T) (session.KV, session.KV) {
		kv := session.NewMemoryKV()
		return kv, kv
	})
}

// One KV shared by two Managers is what a cluster looks like to the
// Manager; in memory it checks the Manager's side of every race.
func TestManagersSharingOneKV(t *testing.T) {
	sessiontest.RunCluster(t, func(t *testing.T) sessiontest.Deployment {
		kv := session.NewMemoryKV()
		return func(cfg session.Config) sessiontest.Node {
			cfg.KV = kv
			m, err := session.NewManager(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(m.Close)
			return sessiontest.Node{Manager: m}
		}
	})
}
