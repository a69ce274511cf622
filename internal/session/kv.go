package session

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
)

// KV is where a Manager keeps its sessions: one record per session plus
// the keys that must be unique across the deployment (codes, token
// hashes, capacity places). In memory for one node; on NATS JetStream
// key-value buckets for a cluster, where several Managers share one KV and
// compare-and-set on revisions decides every race between them.
type KV interface {
	// Node names this process among the deployment's nodes.
	Node() string
	// Get reads a key as stored now; a missing key gives ErrNoKey.
	Get(ctx context.Context, key string) (Entry, error)
	// Peek reads a key as this node last heard of it (see List): what a
	// relay checks on every message, without a round trip.
	Peek(key string) (Entry, error)
	// Create writes a key that must not exist (ErrExists otherwise).
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	// Update writes a key whose revision is still rev (ErrConflict otherwise).
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	// Delete removes a key whose revision is still rev, or whatever its
	// revision when rev is 0; a missing key is not an error.
	Delete(ctx context.Context, key string, rev uint64) error
	// List returns the entries under prefix as this node last heard of
	// them: current on one node, a few milliseconds behind in a cluster.
	// Decisions that must be exact use Get, Create and Update instead.
	List(prefix string) []Entry
	// Sync waits until List and Peek show every write made anywhere
	// before the call: a decision that found the deployment full checks
	// again on a view that cannot be behind.
	Sync(ctx context.Context) error
	// Watch calls fn with the key of every change, made here or on another
	// node, until cancel is called. fn must not block.
	Watch(fn func(key string)) (cancel func())
	// Alive reports whether a node holds its lease; a node that died is
	// reported gone within a bounded time.
	Alive(node string) bool
	Close() error
}

// Entry is a stored key.
type Entry struct {
	Key   string
	Value []byte
	Rev   uint64
}

// KV errors.
var (
	ErrNoKey    = errors.New("session store: no such key")
	ErrExists   = errors.New("session store: key exists")
	ErrConflict = errors.New("session store: changed meanwhile")
)

// MemoryKV is the KV of a single node.
type MemoryKV struct {
	mu       sync.RWMutex // read on every relayed message
	rev      uint64
	data     map[string]Entry
	watchers Watchers
}

var _ KV = (*MemoryKV)(nil)

// NewMemoryKV returns an empty in-memory KV.
func NewMemoryKV() *MemoryKV {
	return &MemoryKV{data: make(map[string]Entry)}
}

// Node is always "local": one node has no peers to tell apart from.
func (m *MemoryKV) Node() string { return "local" }

// Get reads a key.
func (m *MemoryKV) Get(_ context.Context, key string) (Entry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.data[key]
	if !ok {
		return Entry{}, ErrNoKey
	}
	return e, nil
}

// Peek is Get: one node always knows the latest.
func (m *MemoryKV) Peek(key string) (Entry, error) { return m.Get(context.Background(), key) }

// Create writes a new key.
func (m *MemoryKV) Create(_ context.Context, key string, value []byte) (uint64, error) {
	m.mu.Lock()
	if _, ok := m.data[key]; ok {
		m.mu.Unlock()
		return 0, ErrExists
	}
	return m.putLocked(key, value), nil
}

// Update writes a key at revision rev.
func (m *MemoryKV) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, error) {
	m.mu.Lock()
	if e, ok := m.data[key]; !ok || e.Rev != rev {
		m.mu.Unlock()
		return 0, ErrConflict
	}
	return m.putLocked(key, value), nil
}

// putLocked stores and tells the watchers, after unlocking, so a watcher
// may read the KV again.
func (m *MemoryKV) putLocked(key string, value []byte) uint64 {
	m.rev++
	rev := m.rev
	m.data[key] = Entry{Key: key, Value: value, Rev: rev}
	m.mu.Unlock()
	m.watchers.Notify(key)
	return rev
}

// Delete removes a key.
func (m *MemoryKV) Delete(_ context.Context, key string, rev uint64) error {
	m.mu.Lock()
	e, ok := m.data[key]
	if !ok {
		m.mu.Unlock()
		return nil
	}
	if rev != 0 && e.Rev != rev {
		m.mu.Unlock()
		return ErrConflict
	}
	delete(m.data, key)
	m.mu.Unlock()
	m.watchers.Notify(key)
	return nil
}

// List returns the entries under prefix, by key.
func (m *MemoryKV) List(prefix string) []Entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Entry
	for k, e := range m.data {
		if strings.HasPrefix(k, prefix) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Sync has nothing to wait for: one node's view is never behind.
func (m *MemoryKV) Sync(context.Context) error { return nil }

// Watch calls fn after every change.
func (m *MemoryKV) Watch(fn func(string)) func() { return m.watchers.Add(fn) }

// Watchers are the functions a KV calls with the key of each change;
// every KV implementation keeps them the same way. The zero value is
// ready to use.
type Watchers struct {
	mu   sync.Mutex
	fns  map[int]func(string)
	next int
}

// Add registers fn until the returned cancel is called.
func (w *Watchers) Add(fn func(string)) (cancel func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = make(map[int]func(string))
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		delete(w.fns, id)
		w.mu.Unlock()
	}
}

// Notify calls every watcher with key. The KV calls it holding none of
// its own locks, so a watcher may read the KV.
func (w *Watchers) Notify(key string) {
	w.mu.Lock()
	fns := make([]func(string), 0, len(w.fns))
	for _, fn := range w.fns {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(key)
	}
}

// Alive is true for the one node there is.
func (m *MemoryKV) Alive(node string) bool { return node == "local" }

// Close does nothing: memory needs no closing.
func (m *MemoryKV) Close() error { return nil }
