// Package natskv keeps a cluster's sessions in NATS JetStream key-value
// buckets: every node reads and writes the same records, compare-and-set
// on revisions settles races between nodes, and each node follows the
// bucket with a watch so that lists, counts and the relay's per-message
// checks need no round trip. Nodes hold leases in a second bucket whose
// entries expire: a node that dies stops renewing and is reported gone.
//
// Works with nats-server 2.9 and later (JetStream on): it needs only
// key-value buckets with a bucket-wide TTL.
package natskv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// Config names the buckets and sets the lease.
type Config struct {
	// Bucket prefixes the two buckets' names: <Bucket>_sessions and
	// <Bucket>_nodes. Empty is "tomoni".
	Bucket string
	// Replicas of each bucket in a NATS cluster; 0 is 1.
	Replicas int
	// Lease is how long a node counts as alive after its last renewal; it
	// renews every third of it. Zero is 15 s.
	Lease time.Duration
	// Node names this process; empty draws one from the host name.
	Node string
	Log  *slog.Logger
}

// KV is a session.KV on JetStream.
type KV struct {
	cfg      Config
	js       jetstream.JetStream
	sessions jetstream.KeyValue
	nodes    jetstream.KeyValue

	mu       sync.RWMutex
	cache    map[string]session.Entry
	tomb     map[string]uint64 // deleted here at or after this revision
	watchers session.Watchers
	applied  uint64     // the highest stream sequence the watch delivered
	caught   *sync.Cond // broadcast when applied grows (on mu)

	aliveMu  sync.Mutex
	lastSeen map[string]time.Time // nodes' last presence in a lease listing
	lastOK   time.Time            // the last listing that worked
	started  time.Time

	cancel context.CancelFunc
	done   sync.WaitGroup
}

var _ session.KV = (*KV)(nil)

// Open creates (or joins) the buckets, reads the current sessions and
// starts following them and renewing this node's lease. The connection
// stays the caller's.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*KV, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "tomoni"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Second
	}
	if cfg.Node == "" {
		cfg.Node = nodeName()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	sessions, err := bucket(ctx, js, cfg, "sessions", "Tomoni sessions, codes, token hashes and capacity places", 0)
	if err != nil {
		return nil, err
	}
	nodes, err := bucket(ctx, js, cfg, "nodes", "Tomoni nodes' leases", cfg.Lease)
	if err != nil {
		return nil, err
	}
	k := &KV{
		cfg: cfg, js: js, sessions: sessions, nodes: nodes,
		cache: make(map[string]session.Entry), tomb: make(map[string]uint64),
		lastSeen: make(map[string]time.Time),
		started:  time.Now(),
	}
	k.caught = sync.NewCond(&k.mu)
	if err := k.renew(ctx); err != nil {
		return nil, fmt.Errorf("node lease: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	w, err := sessions.WatchAll(runCtx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch sessions: %w", err)
	}
	// The initial values end with a nil entry: the node starts once it
	// knows every session.
	for synced := false; !synced; {
		select {
		case e := <-w.Updates():
			if e == nil {
				synced = true
				continue
			}
			k.apply(e)
		case <-ctx.Done():
			cancel()
			return nil, fmt.Errorf("read sessions: %w", ctx.Err())
		}
	}
	k.done.Add(2)
	go k.follow(runCtx, w)
	go k.keepLease(runCtx)
	return k, nil
}

// bucket creates (or joins) the deployment's bucket <Bucket>_<name>: one
// value per key, on disk, its keys expiring ttl after their last write
// (0: never).
func bucket(ctx context.Context, js jetstream.JetStream, cfg Config, name, description string, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket + "_" + name,
		Description: description,
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("%s bucket: %w", name, err)
	}
	return kv, nil
}

func nodeName() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, host)
	if len(host) > 40 {
		host = host[:40]
	}
	b := make([]byte, 4)
	rand.Read(b)
	return strings.Trim(host+"-"+hex.EncodeToString(b), "-")
}

// follow applies what the watch delivers until ctx ends. The watch's
// consumer starts again by itself after NATS comes back.
func (k *KV) follow(ctx context.Context, w jetstream.KeyWatcher) {
	defer k.done.Done()
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			k.apply(e)
		}
	}
}

// apply puts a watched entry in the cache unless the cache already holds
// something newer (a write made here), then tells the watchers.
func (k *KV) apply(e jetstream.KeyValueEntry) {
	key, rev := e.Key(), e.Revision()
	k.mu.Lock()
	if rev > k.applied {
		k.applied = rev
		k.caught.Broadcast()
	}
	if cur, ok := k.cache[key]; ok && cur.Rev >= rev {
		k.mu.Unlock()
		return
	}
	if t, ok := k.tomb[key]; ok {
		if rev <= t {
			k.mu.Unlock()
			return
		}
		delete(k.tomb, key)
	}
	if e.Operation() == jetstream.KeyValuePut {
		k.cache[key] = session.Entry{Key: key, Value: e.Value(), Rev: rev}
	} else {
		delete(k.cache, key)
	}
	k.mu.Unlock()
	k.watchers.Notify(key)
}

// wrote records a write made here, so that this node reads its own
// writes at once.
func (k *KV) wrote(key string, value []byte, rev uint64) {
	k.mu.Lock()
	if cur, ok := k.cache[key]; ok && cur.Rev >= rev {
		k.mu.Unlock()
		return
	}
	k.cache[key] = session.Entry{Key: key, Value: value, Rev: rev}
	delete(k.tomb, key)
	k.mu.Unlock()
	k.watchers.Notify(key)
}

// keepLease renews this node's lease every third of its length and lists
// who else holds one.
func (k *KV) keepLease(ctx context.Context) {
	defer k.done.Done()
	t := time.NewTicker(k.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, k.cfg.Lease/3)
			if err := k.renew(rctx); err != nil && ctx.Err() == nil {
				k.cfg.Log.Warn("cluster: renew node lease", "node", k.cfg.Node, "err", err)
			}
			cancel()
		}
	}
}

func (k *KV) renew(ctx context.Context) error {
	if _, err := k.nodes.Put(ctx, "n."+k.cfg.Node, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return err
	}
	keys, err := k.nodes.ListKeys(ctx)
	if err != nil {
		return err
	}
	var present []string
	for key := range keys.Keys() {
		present = append(present, strings.TrimPrefix(key, "n."))
	}
	keys.Stop()
	now := time.Now()
	k.aliveMu.Lock()
	defer k.aliveMu.Unlock()
	k.lastOK = now
	for _, n := range present {
		k.lastSeen[n] = now
	}
	return nil
}

// Node names this node.
func (k *KV) Node() string { return k.cfg.Node }

// Alive reports a node dead once it has been missing from every lease
// listing for longer than a lease. Only listings that worked count, so a
// node that lost NATS for a while does not find everyone else dead on its
// return, and a NATS restart (leases renewed within a third of a lease)
// kills no one.
func (k *KV) Alive(node string) bool {
	if node == k.cfg.Node {
		return true
	}
	k.aliveMu.Lock()
	defer k.aliveMu.Unlock()
	seen := k.lastSeen[node]
	if seen.Before(k.started) {
		seen = k.started
	}
	return k.lastOK.Sub(seen) <= k.cfg.Lease
}

// mapErr turns JetStream's answers into the KV's errors. A wrong last
// revision means "exists" to a create and "changed meanwhile" to an update
// or a delete (JetStream gives both the same code).
func mapErr(err error, wrongRev error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return session.ErrNoKey
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return wrongRev
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return wrongRev
	}
	return err
}

// Get reads a key from the bucket.
func (k *KV) Get(ctx context.Context, key string) (session.Entry, error) {
	e, err := k.sessions.Get(ctx, key)
	if err != nil {
		return session.Entry{}, mapErr(err, err)
	}
	out := session.Entry{Key: key, Value: e.Value(), Rev: e.Revision()}
	k.wrote(key, out.Value, out.Rev) // a fresher read is as good as a watch event
	return out, nil
}

// Peek reads a key from this node's view.
func (k *KV) Peek(key string) (session.Entry, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	e, ok := k.cache[key]
	if !ok {
		return session.Entry{}, session.ErrNoKey
	}
	return e, nil
}

// Create writes a key that must not exist.
func (k *KV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := k.sessions.Create(ctx, key, value)
	if err != nil {
		return 0, mapErr(err, session.ErrExists)
	}
	k.wrote(key, value, rev)
	return rev, nil
}

// Update writes a key at revision rev.
func (k *KV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	n, err := k.sessions.Update(ctx, key, value, rev)
	if err != nil {
		return 0, mapErr(err, session.ErrConflict)
	}
	k.wrote(key, value, n)
	return n, nil
}

// Delete removes a key (at revision rev, unless rev is 0).
func (k *KV) Delete(ctx context.Context, key string, rev uint64) error {
	var opts []jetstream.KVDeleteOpt
	if rev != 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	if err := k.sessions.Delete(ctx, key, opts...); err != nil {
		return mapErr(err, session.ErrConflict)
	}
	k.mu.Lock()
	known := k.cache[key].Rev
	if rev > known {
		known = rev
	}
	delete(k.cache, key)
	// The watch may still bring the older value; it must not come back.
	k.tomb[key] = known
	k.mu.Unlock()
	k.watchers.Notify(key)
	return nil
}

// List returns the entries under prefix from this node's view, by key.
func (k *KV) List(prefix string) []session.Entry {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []session.Entry
	for key, e := range k.cache {
		if strings.HasPrefix(key, prefix) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Sync waits until the watch has delivered the bucket's last message as
// it is now.
func (k *KV) Sync(ctx context.Context) error {
	st, err := k.sessions.Status(ctx)
	if err != nil {
		return fmt.Errorf("bucket status: %w", err)
	}
	last := st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
	stop := context.AfterFunc(ctx, func() {
		k.mu.Lock()
		k.caught.Broadcast()
		k.mu.Unlock()
	})
	defer stop()
	k.mu.Lock()
	defer k.mu.Unlock()
	for k.applied < last {
		if ctx.Err() != nil {
			return fmt.Errorf("catch up with the bucket: %w", ctx.Err())
		}
		k.caught.Wait()
	}
	return nil
}

// Watch calls fn after every change this node hears of.
func (k *KV) Watch(fn func(string)) func() { return k.watchers.Add(fn) }

// PurgeDeletes drops the markers deleted keys leave behind once they are
// older than age, so the bucket does not grow with every ended session.
func (k *KV) PurgeDeletes(ctx context.Context, age time.Duration) error {
	return k.sessions.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(age))
}

// Close stops following the bucket and gives up the lease at once, so
// the other nodes need not wait for it to expire.
func (k *KV) Close() error {
	k.cancel()
	k.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := k.nodes.Delete(ctx, "n."+k.cfg.Node); err != nil {
		return fmt.Errorf("give up node lease: %w", err)
	}
	return nil
}

// Abandon stops following and renewing without giving up the lease: what
// a node that dies does (for tests of node loss).
func (k *KV) Abandon() {
	k.cancel()
	k.done.Wait()
}
