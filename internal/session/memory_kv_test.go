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
