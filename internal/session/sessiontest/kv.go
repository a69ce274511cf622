package sessiontest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// wait is how long another node may take to hear of a change.
const wait = 5 * time.Second

// eventually polls cond until it holds or wait has passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// RunKV is the contract of session.KV. open returns two nodes of one fresh
// deployment (a single-node KV may return itself twice).
func RunKV(t *testing.T, open func(t *testing.T) (a, b session.KV)) {
	ctx := context.Background()
	t.Run("one create wins, on whichever node", func(t *testing.T) {
		a, b := open(t)
		var won, lost atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			kv := a
			if i%2 == 1 {
				kv = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := kv.Create(ctx, "c.123456", []byte("x"))
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, session.ErrExists):
					lost.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 || lost.Load() != 19 {
			t.Fatalf("%d creates won, %d lost; want 1 and 19", won.Load(), lost.Load())
		}
	})
	t.Run("updates compare revisions", func(t *testing.T) {
		a, b := open(t)
		r1, err := a.Create(ctx, "s.x", []byte("1"))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := a.Update(ctx, "s.x", []byte("2"), r1)
		if err != nil || r2 <= r1 {
			t.Fatalf("update: rev %d, %v", r2, err)
		}
		if _, err := b.Update(ctx, "s.x", []byte("stale"), r1); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("update at an old revision: %v", err)
		}
		e, err := b.Get(ctx, "s.x")
		if err != nil || string(e.Value) != "2" || e.Rev != r2 {
			t.Fatalf("get: %+v %v", e, err)
		}
		if _, err := b.Update(ctx, "s.missing", []byte("x"), 1); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("update of a missing key: %v", err)
		}
	})
	t.Run("deletes compare revisions, and a deleted key may be made again", func(t *testing.T) {
		a, b := open(t)
		r1, _ := a.Create(ctx, "h.k", []byte("1"))
		r2, _ := a.Update(ctx, "h.k", []byte("2"), r1)
		if err := b.Delete(ctx, "h.k", r1); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("delete at an old revision: %v", err)
		}
		if err := b.Delete(ctx, "h.k", r2); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Get(ctx, "h.k"); !errors.Is(err, session.ErrNoKey) {
			t.Fatalf("get after delete: %v", err)
		}
		if err := a.Delete(ctx, "h.never", 0); err != nil {
			t.Fatalf("deleting a missing key: %v", err)
		}
		if _, err := a.Create(ctx, "h.k", []byte("3")); err != nil {
			t.Fatalf("create after delete: %v", err)
		}
	})
	t.Run("a node reads its own writes at once", func(t *testing.T) {
		a, _ := open(t)
		rev, err := a.Create(ctx, "live.0", []byte("s1"))
		if err != nil {
			t.Fatal(err)
		}
		if e, err := a.Peek("live.0"); err != nil || e.Rev != rev {
			t.Fatalf("peek after create: %+v %v", e, err)
		}
		if l := a.List("live."); len(l) != 1 || string(l[0].Value) != "s1" {
			t.Fatalf("list after create: %+v", l)
		}
		if err := a.Delete(ctx, "live.0", rev); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Peek("live.0"); !errors.Is(err, session.ErrNoKey) {
			t.Fatalf("peek after delete: %v", err)
		}
		if l := a.List("live."); len(l) != 0 {
			t.Fatalf("list after delete: %+v", l)
		}
	})
	t.Run("other nodes hear of changes", func(t *testing.T) {
		a, b := open(t)
		heard := make(chan string, 16)
		cancel := b.Watch(func(key string) {
			select {
			case heard <- key:
			default:
			}
		})
		defer cancel()
		rev, _ := a.Create(ctx, "s.y", []byte("v"))
		eventually(t, "the other node sees the new key", func() bool {
			e, err := b.Peek("s.y")
			return err == nil && e.Rev == rev
		})
		select {
		case <-heard:
		case <-time.After(wait):
			t.Fatal("the watcher heard nothing")
		}
		if err := a.Delete(ctx, "s.y", 0); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the other node forgets the deleted key", func() bool {
			_, err := b.Peek("s.y")
			return errors.Is(err, session.ErrNoKey)
		})
		if _, err := b.Get(ctx, "s.nothing"); !errors.Is(err, session.ErrNoKey) {
			t.Fatalf("get of a missing key: %v", err)
		}
	})
	t.Run("every node is alive to itself", func(t *testing.T) {
		a, b := open(t)
		if !a.Alive(a.Node()) || !b.Alive(b.Node()) || !a.Alive(b.Node()) {
			t.Fatal("a running node reported dead")
		}
	})
}
