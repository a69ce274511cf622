package session

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
)

// Config sets the manager's limits. Every duration and count must be set
// (config.Default holds the product's defaults); Now and Rand may be nil
// for the real clock and crypto/rand.
type Config struct {
	CodeTTL         time.Duration // how long a code may wait for the customer
	Grace           time.Duration // how long a joined customer may be disconnected
	StaffIdle       time.Duration // how long a live session may have no staff connected
	MaxDuration     time.Duration // longest a session may last once joined
	WarnBefore      time.Duration // warning before MaxDuration
	MaxLive         int           // live or paused sessions on this deployment
	MaxWaiting      int           // codes waiting for a customer
	MaxPerStaff     int           // live, paused or waiting sessions of one staff member
	EndedRetention  time.Duration // how long ended sessions stay listed
	MaxEndedHistory int           // ended sessions kept for listing
	TokenAfterEnd   time.Duration // customer token still recognised after end, to say "ended"
	ConfirmWithin   time.Duration // how long a joined customer may take to confirm and connect
	HandoffTTL      time.Duration // how long a hand-off token may take to be redeemed
	MaxHandoffs     int           // outstanding hand-off tokens per session
	MaxRequests     int           // join requests that may wait on one code
	RequestIdle     time.Duration // a join request whose page stops polling lapses after this
	Now             func() time.Time
	Rand            io.Reader
	// KV holds the sessions; nil is a fresh in-memory KV (one node).
	KV KV
	// Log hears of store errors that no caller can be told of (a sweep, a
	// socket going away); nil discards them.
	Log *slog.Logger
}

// FromConfig takes the manager's part of the deployment's configuration.
func FromConfig(cfg config.Config) Config {
	b := cfg.Bounds
	return Config{
		CodeTTL: cfg.CodeTTL, Grace: cfg.Grace, StaffIdle: cfg.StaffIdle, MaxDuration: cfg.MaxDuration,
		MaxLive: cfg.MaxLive, MaxWaiting: cfg.MaxWaiting, MaxPerStaff: cfg.MaxPerStaff,
		WarnBefore: b.WarnBefore, EndedRetention: b.EndedRetention, MaxEndedHistory: b.MaxEndedHistory,
		TokenAfterEnd: b.TokenAfterEnd, ConfirmWithin: b.ConfirmWithin, HandoffTTL: b.HandoffTTL, MaxHandoffs: b.MaxHandoffs,
		MaxRequests: b.MaxJoinRequests, RequestIdle: b.JoinRequestIdle,
	}
}

// Validate reports the first limit that is not set.
func (c Config) Validate() error {
	for name, d := range map[string]time.Duration{
		"code TTL": c.CodeTTL, "grace": c.Grace, "staff idle": c.StaffIdle, "maximum duration": c.MaxDuration,
		"warning": c.WarnBefore, "ended retention": c.EndedRetention, "token after end": c.TokenAfterEnd,
		"confirmation window": c.ConfirmWithin, "hand-off TTL": c.HandoffTTL,
		"join request idle": c.RequestIdle,
	} {
		if d <= 0 {
			return fmt.Errorf("session: %s must be positive", name)
		}
	}
	for name, n := range map[string]int{
		"max live": c.MaxLive, "max waiting": c.MaxWaiting, "max per staff": c.MaxPerStaff,
		"ended history": c.MaxEndedHistory, "max hand-offs": c.MaxHandoffs,
		"join requests per code": c.MaxRequests,
	} {
		if n <= 0 {
			return fmt.Errorf("session: %s must be positive", name)
		}
	}
	if c.WarnBefore >= c.MaxDuration {
		return fmt.Errorf("session: the warning (%s) must come before the maximum duration (%s)", c.WarnBefore, c.MaxDuration)
	}
	return nil
}

// Change is delivered to the manager's listener after every state change,
// in the order the changes happened.
type Change struct {
	Session Session
	Prev    State
	// Warning is set when the session nears its maximum duration.
	Warning time.Duration
	// Request and RequestEvent are set when a join request came, went or
	// was admitted (RequestEvent is then RequestAdmitted).
	Request      *Request
	RequestEvent string
	// Handover and HandoverEvent are set when a hand-over was asked for,
	// answered, lapsed or cancelled.
	Handover      *Handover
	HandoverEvent string
	// Watching is set when a supervisor began watching read-only.
	Watching *Member
}

// Manager keeps the sessions of a deployment: all of them on one node,
// or its share of a cluster's, where every Manager reads and writes the
// same KV. It is safe for concurrent use.
type Manager struct {
	cfg Config
	kv  KV

	// mu serialises this node's changes, so that its listeners hear them
	// in the order they were made; other nodes' races are settled by
	// compare-and-set in the KV.
	mu sync.Mutex
	// waiters counts the polls held open here per request (by token hash).
	waiters map[string]int

	wakes wakeSet
	cache recordCache

	// notifyMu keeps listener calls serialised and in change order; it is
	// taken before mu is released, so no later change can overtake.
	notifyMu  sync.Mutex
	listenMu  sync.Mutex
	listeners map[int]func(Change)
	nextID    int
	unwatch   func()
	// changes counts the changes to sessions this node has heard of. A
	// KV tells its watchers after its view changed, so a state read after
	// the count was taken is at least as new as the count says.
	changes atomic.Uint64
}

// opTimeout bounds one operation on the KV: a cluster whose NATS is away
// answers errors, not hangs.
const opTimeout = 5 * time.Second

// NewManager returns a manager, or an error when cfg is incomplete.
func NewManager(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = crand.Reader
	}
	if cfg.KV == nil {
		cfg.KV = NewMemoryKV()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		cfg:       cfg,
		kv:        cfg.KV,
		waiters:   make(map[string]int),
		listeners: make(map[int]func(Change)),
	}
	m.wakes.init()
	m.cache.init()
	// A change to a session, made here or on another node, wakes the
	// polls of its join requests.
	m.unwatch = m.kv.Watch(func(key string) {
		if id, ok := strings.CutPrefix(key, "s."); ok {
			m.changes.Add(1)
			m.wakes.wake(id)
		}
	})
	return m, nil
}

// Close stops following the KV; the KV itself belongs to the caller.
func (m *Manager) Close() { m.unwatch() }

// Subscribe calls fn after every change this node makes, serialised and
// in the order the changes happened, until the returned cancel is called.
// fn may block briefly (an audit write) but must not call back into the
// Manager. In a cluster each change is heard on the node that made it
// only: that node writes its audit row and tells the sockets, which
// listen on every node.
func (m *Manager) Subscribe(fn func(Change)) (cancel func()) {
	m.listenMu.Lock()
	id := m.nextID
	m.nextID++
	m.listeners[id] = fn
	m.listenMu.Unlock()
	return func() {
		m.listenMu.Lock()
		delete(m.listeners, id)
		m.listenMu.Unlock()
	}
}

// Observe calls fn with a session as it is after each change to it, made
// on this node or any other, until cancel. Unlike Subscribe's listeners it
// hears every node's changes, without the details of what happened: it
// keeps per-node state (a node's page files) in step with the deployment.
// fn must not block or call back into the Manager.
func (m *Manager) Observe(fn func(Session)) (cancel func()) {
	return m.kv.Watch(func(key string) {
		if !strings.HasPrefix(key, "s.") {
			return
		}
		e, err := m.kv.Peek(key)
		if err != nil {
			return
		}
		if r, err := m.cache.decode(e); err == nil {
			fn(r.session())
		}
	})
}

// Config returns the effective configuration.
func (m *Manager) Config() Config { return m.cfg }

// unlockAndNotify releases m.mu and delivers changes in order.
func (m *Manager) unlockAndNotify(changes ...Change) {
	if len(changes) == 0 {
		m.mu.Unlock()
		return
	}
	m.notifyMu.Lock()
	m.mu.Unlock()
	defer m.notifyMu.Unlock()
	m.listenMu.Lock()
	ids := make([]int, 0, len(m.listeners))
	for id := range m.listeners {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	fns := make([]func(Change), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, m.listeners[id])
	}
	m.listenMu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}

func (m *Manager) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// warn logs a failure no caller can be told of (a sweep, a socket going
// away); a session that is gone or already over is no failure.
func (m *Manager) warn(what, id string, err error) {
	if err != nil && !errors.Is(err, apperr.ErrNotFound) && !errors.Is(err, apperr.ErrEnded) {
		m.cfg.Log.Warn(what, "session", id, "err", err)
	}
}

// storeError is what callers hear when the KV fails: the deployment cannot
// answer now, which is not the caller's fault.
func storeError(op string, err error) error {
	return fmt.Errorf("session %s: %w: %w", op, apperr.ErrUnavailable, err)
}

// load reads a session's record as stored now, decoded afresh so the
// caller may change it.
func (m *Manager) load(ctx context.Context, id string) (*record, uint64, error) {
	e, err := m.kv.Get(ctx, sessionKey(id))
	if errors.Is(err, ErrNoKey) {
		return nil, 0, apperr.ErrNotFound
	}
	if err != nil {
		return nil, 0, storeError("read", err)
	}
	r, err := decodeRecord(e.Value)
	if err != nil {
		return nil, 0, err
	}
	return r, e.Rev, nil
}

// read returns a session's record for reading only (it may be shared),
// as this node last heard of it: at most milliseconds behind in a cluster.
func (m *Manager) read(ctx context.Context, id string) (*record, error) {
	e, err := m.peek(ctx, sessionKey(id))
	if errors.Is(err, ErrNoKey) {
		return nil, apperr.ErrNotFound
	}
	if err != nil {
		return nil, storeError("read", err)
	}
	return m.cache.decode(e)
}

// records returns every session's record as this node last heard of it,
// for reading only.
func (m *Manager) records() []*record {
	entries := m.kv.List("s.")
	out := make([]*record, 0, len(entries))
	for _, e := range entries {
		if r, err := m.cache.decode(e); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// errNoChange ends a transaction without writing.
var errNoChange = errors.New("no change")

// update runs fn on the session's current record and writes the result,
// starting again from the newer record when another node wrote first. fn
// must change nothing but r (it may run more than once); it returns the
// changes to announce, or errNoChange to write nothing.
func (m *Manager) update(ctx context.Context, id string, fn func(r *record) ([]Change, error)) ([]Change, *record, error) {
	for attempt := 0; ; attempt++ {
		r, rev, err := m.load(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		changes, err := fn(r)
		if errors.Is(err, errNoChange) {
			return changes, r, nil
		}
		if err != nil {
			return nil, r, err
		}
		_, err = m.kv.Update(ctx, sessionKey(id), encodeRecord(r), rev)
		if errors.Is(err, ErrConflict) && attempt < 50 {
			continue
		}
		if err != nil {
			return nil, nil, storeError("write", err)
		}
		return changes, r, nil
	}
}

// catchUp waits (briefly) until this node's view holds every change made
// before the call; a KV that cannot tell leaves the view as it is.
func (m *Manager) catchUp() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.kv.Sync(ctx); err != nil {
		m.cfg.Log.Debug("session store: catch up", "err", err)
	}
}

// Counts reports waiting and active (live or paused) sessions.
func (m *Manager) Counts() (waiting, active int) {
	for _, r := range m.records() {
		switch {
		case r.State == Waiting:
			waiting++
		case r.Active():
			active++
		}
	}
	return waiting, active
}

// taken counts the places of a kind held now (as this node last heard).
func (m *Manager) taken(kind string) int { return len(m.kv.List(kind + ".")) }

// claimPlace takes a free place of kind for session id: exactly limit
// sessions can hold one at a time, whichever nodes they started on.
func (m *Manager) claimPlace(ctx context.Context, kind string, limit int, id string) (string, error) {
	held := make(map[string]bool)
	for _, e := range m.kv.List(kind + ".") {
		held[e.Key] = true
	}
	for synced := false; ; synced = true {
		start := rand.IntN(limit) // spread the nodes' first tries
		for i := range limit {
			key := placeKey(kind, (start+i)%limit)
			if held[key] {
				continue
			}
			_, err := m.kv.Create(ctx, key, placeValue(id, m.cfg.Now()))
			if err == nil {
				return key, nil
			}
			if !errors.Is(err, ErrExists) {
				return "", storeError("claim place", err)
			}
			held[key] = true
		}
		if synced {
			return "", apperr.ErrBusy
		}
		// Full as this node sees it; a place freed on another node a
		// moment ago may not have reached this view yet.
		if err := m.kv.Sync(ctx); err != nil {
			return "", storeError("claim place", err)
		}
		clear(held)
		for _, e := range m.kv.List(kind + ".") {
			held[e.Key] = true
		}
	}
}

// full reports whether every place of kind is taken, looking again on an
// up-to-date view before saying yes.
func (m *Manager) full(ctx context.Context, kind string, limit int) bool {
	if m.taken(kind) < limit {
		return false
	}
	if err := m.kv.Sync(ctx); err != nil {
		return true
	}
	return m.taken(kind) >= limit
}

// release deletes key if it still names session id (as a place or an
// index), so a key reused meanwhile is left alone.
func (m *Manager) release(ctx context.Context, key, id string) {
	if key == "" {
		return
	}
	e, err := m.kv.Get(ctx, key)
	if errors.Is(err, ErrNoKey) {
		return
	}
	if err == nil {
		if owner, _ := parsePlace(e.Value); owner == id {
			err = m.kv.Delete(ctx, key, e.Rev)
		}
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		m.cfg.Log.Warn("session store: release", "key", key, "err", err)
	}
}

// drop deletes a key that only this session could have made (a random
// token's hash); errors are logged, the sweep tries again.
func (m *Manager) drop(ctx context.Context, key string) {
	if err := m.kv.Delete(ctx, key, 0); err != nil {
		m.cfg.Log.Warn("session store: delete", "key", key, "err", err)
	}
}

// Create issues a new join code for a staff member. It fails with
// apperr.ErrBusy when a capacity limit is reached.
func (m *Manager) Create(staffID int64, staffName string) (Session, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	if m.full(ctx, waitingPlaces, m.cfg.MaxWaiting) {
		m.mu.Unlock()
		return Session{}, busy("too many codes are waiting for customers")
	}
	// A code issued now could not be used: say so to the staff on the
	// phone rather than let the customer be refused later.
	if m.full(ctx, livePlaces, m.cfg.MaxLive) {
		m.mu.Unlock()
		return Session{}, ErrFull
	}
	if m.atStaffLimit(staffID) {
		m.mu.Unlock()
		return Session{}, ErrTooManyOpen
	}
	id, err := newToken(m.cfg.Rand)
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	id = id[:16]
	place, err := m.claimPlace(ctx, waitingPlaces, m.cfg.MaxWaiting, id)
	if errors.Is(err, apperr.ErrBusy) {
		err = busy("too many codes are waiting for customers")
	}
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	code, err := m.uniqueCode(ctx, id)
	if err != nil {
		m.release(ctx, place, id)
		m.mu.Unlock()
		return Session{}, err
	}
	now := m.cfg.Now()
	r := &record{
		Session: Session{
			ID: id, Code: code, StaffID: staffID, StaffName: staffName, State: Waiting,
			CreatedAt: now, ExpiresAt: now.Add(m.cfg.CodeTTL),
			Presenters: []Member{{StaffID: staffID, Name: staffName, Colour: 0}},
		},
		StaffSeenAt: now, NextColour: 1, Place: place,
	}
	if _, err := m.kv.Create(ctx, sessionKey(id), encodeRecord(r)); err != nil {
		m.release(ctx, place, id)
		m.release(ctx, codeKey(code), id)
		m.mu.Unlock()
		return Session{}, storeError("create", err)
	}
	out := r.session()
	m.unlockAndNotify(Change{Session: out, Prev: ""})
	return out, nil
}

// atStaffLimit reports whether staffID has as many open (waiting, live or
// paused) sessions in their charge as one person may.
func (m *Manager) atStaffLimit(staffID int64) bool {
	open := 0
	for _, r := range m.records() {
		if r.StaffID == staffID && r.State != Ended {
			open++
		}
	}
	return open >= m.cfg.MaxPerStaff
}

// Refusals of a new code, each with its own code so the console can say
// which in the staff's language.
var (
	ErrFull        = apperr.New(http.StatusServiceUnavailable, "full", "every live-session place is taken; try again when a session ends")
	ErrTooManyOpen = apperr.New(http.StatusConflict, "too_many_open", "you have as many open sessions as one person may; end one first")
)

func busy(msg string) *apperr.Error {
	e := *apperr.ErrBusy
	e.Message = msg
	return &e
}

// uniqueCode draws a code no other waiting session holds and claims it
// for session id.
func (m *Manager) uniqueCode(ctx context.Context, id string) (string, error) {
	// With at most MaxWaiting of a million codes taken, 20 draws all colliding
	// means the random source is broken, not bad luck.
	for range 20 {
		c, err := newCode(m.cfg.Rand)
		if err != nil {
			return "", err
		}
		_, err = m.kv.Create(ctx, codeKey(c), []byte(id))
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrExists) {
			return "", storeError("claim code", err)
		}
	}
	return "", fmt.Errorf("no unique code after 20 draws")
}

// peek reads key from this node's view, or from the store when this node
// has not heard of it yet (a token made on another node a moment ago).
func (m *Manager) peek(ctx context.Context, key string) (Entry, error) {
	e, err := m.kv.Peek(key)
	if errors.Is(err, ErrNoKey) {
		e, err = m.kv.Get(ctx, key)
	}
	return e, err
}

// lookup reads the session id an index key names. Index keys never
// change once made, so this node's view serves when it has them.
func (m *Manager) lookup(ctx context.Context, key string) (string, error) {
	e, err := m.peek(ctx, key)
	if err != nil {
		return "", err
	}
	id, _ := parsePlace(e.Value)
	return id, nil
}

// ByToken finds the session a customer token belongs to. The token stays
// recognised for a short while after the end so a reconnecting page can be
// told the session is over; callers check State.
func (m *Manager) ByToken(tok string) (Session, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	id, err := m.lookup(ctx, tokenKey(hashHex(tok)))
	if errors.Is(err, ErrNoKey) {
		return Session{}, apperr.ErrUnauthorized
	}
	if err != nil {
		return Session{}, storeError("token", err)
	}
	r, err := m.read(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Session{}, apperr.ErrUnauthorized
	}
	if err != nil {
		return Session{}, err
	}
	return r.session(), nil
}

// Handoff issues a one-time, short-lived token for the session of the
// customer token tok, to carry it to another of the bank's origins
// (homepage → internet banking).
func (m *Manager) Handoff(tok string) (string, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	id, err := m.lookup(ctx, tokenKey(hashHex(tok)))
	if errors.Is(err, ErrNoKey) {
		return "", apperr.ErrUnauthorized
	}
	if err != nil {
		return "", storeError("token", err)
	}
	h, err := newToken(m.cfg.Rand)
	if err != nil {
		return "", err
	}
	hh := hashHex(h)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.kv.Create(ctx, handoffKey(hh), []byte(id)); err != nil {
		return "", storeError("hand-off", err)
	}
	now := m.cfg.Now()
	_, _, err = m.update(ctx, id, func(r *record) ([]Change, error) {
		if !r.Active() {
			return nil, apperr.ErrUnauthorized
		}
		n := 0
		for _, exp := range r.Handoffs {
			if now.Before(exp) {
				n++
			}
		}
		if n >= m.cfg.MaxHandoffs {
			return nil, apperr.ErrRateLimited
		}
		if r.Handoffs == nil {
			r.Handoffs = make(map[string]time.Time)
		}
		r.Handoffs[hh] = now.Add(m.cfg.HandoffTTL)
		return nil, nil
	})
	if err != nil {
		m.drop(ctx, handoffKey(hh))
		if errors.Is(err, apperr.ErrNotFound) {
			err = apperr.ErrUnauthorized
		}
		return "", err
	}
	return h, nil
}

// ErrHandoff answers a used, expired or unknown hand-off token.
var ErrHandoff = apperr.New(401, "invalid_handoff", "the link to continue screen sharing has expired or was already used")

// Redeem spends a hand-off token and returns a new customer token for the
// same session. A token works once, on whichever node it is shown.
func (m *Manager) Redeem(h string) (Session, string, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	hh := hashHex(h)
	e, err := m.kv.Get(ctx, handoffKey(hh))
	if errors.Is(err, ErrNoKey) {
		return Session{}, "", ErrHandoff
	}
	if err != nil {
		return Session{}, "", storeError("hand-off", err)
	}
	// Deleting at the revision read is what spends it: of two nodes
	// redeeming at once, one wins.
	if err := m.kv.Delete(ctx, handoffKey(hh), e.Rev); err != nil {
		if errors.Is(err, ErrConflict) {
			return Session{}, "", ErrHandoff
		}
		return Session{}, "", storeError("hand-off", err)
	}
	id := string(e.Value)
	tok, err := newToken(m.cfg.Rand)
	if err != nil {
		return Session{}, "", err
	}
	th := hashHex(tok)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	_, r, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		exp, ok := r.Handoffs[hh]
		delete(r.Handoffs, hh)
		if !ok || !now.Before(exp) || !r.Active() {
			return nil, ErrHandoff
		}
		r.Tokens = append(r.Tokens, th)
		return nil, nil
	})
	if errors.Is(err, apperr.ErrNotFound) {
		err = ErrHandoff
	}
	if err != nil {
		return Session{}, "", err
	}
	if _, err := m.kv.Create(ctx, tokenKey(th), []byte(id)); err != nil {
		return Session{}, "", storeError("token", err)
	}
	return r.session(), tok, nil
}

// Get returns a session by id.
func (m *Manager) Get(id string) (Session, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	r, err := m.read(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return r.session(), nil
}

// StateOf returns a function that gives a session's state as this node
// knows it, for the relay's check on every message a socket sends: it
// copies nothing, builds the session's key once, looks the session up
// again only after some session changed, and reaches the KV only when
// this node has not heard of the session. The function is for one
// goroutine at a time.
func (m *Manager) StateOf(id string) func() (State, error) {
	key := sessionKey(id)
	var (
		read bool
		seen uint64 // m.changes when st was read
		st   State
	)
	return func() (State, error) {
		n := m.changes.Load()
		if read && n == seen {
			return st, nil
		}
		s, err := m.state(id, key)
		if err != nil {
			return s, err
		}
		read, seen, st = true, n, s
		return s, nil
	}
}

// Pointing is what the relay needs to pass a staff member's mark on.
type Pointing struct {
	State    State
	Me       Member // the staff member, when they present
	Presents bool
	// Others is whether anyone else (another presenter, a watcher) has
	// the session open, to see the mark too.
	Others bool
}

// PointingOf reads a session as StateOf does, for a mark staffID made: a
// presenter's pointer moves many times a second, and Get would copy the
// whole session each time.
func (m *Manager) PointingOf(id string, staffID int64) (Pointing, error) {
	r, ok := m.known(sessionKey(id))
	if !ok {
		ctx, cancel := m.ctx()
		defer cancel()
		var err error
		if r, err = m.read(ctx, id); err != nil {
			return Pointing{}, err
		}
	}
	me, presents := r.Member(staffID)
	others := len(r.Presenters) > 1
	for wid, w := range r.Watching {
		others = others || r.watching(wid, w)
	}
	return Pointing{State: r.State, Me: me, Presents: presents, Others: others}, nil
}

func (m *Manager) state(id, key string) (State, error) {
	if r, ok := m.known(key); ok {
		return r.State, nil
	}
	s, err := m.Get(id)
	return s.State, err
}

// known is the record under key as this node last heard of it, without
// asking the KV: what the relay checks on every message.
func (m *Manager) known(key string) (*record, bool) {
	e, err := m.kv.Peek(key)
	if err != nil {
		return nil, false
	}
	r, err := m.cache.decode(e)
	return r, err == nil
}

// List returns a staff member's sessions, newest first: those in their
// charge, those they present on, and one waiting for them to take over.
// It reads after every change made before the call, on any node: a
// console that heard of a join request lists it.
func (m *Manager) List(staffID int64) []Session {
	m.catchUp()
	var out []Session
	for _, r := range m.records() {
		if r.Involves(staffID) {
			out = append(out, r.session())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// SetConnected records that the customer's (customer=true) or the staff's
// sockets on this node connected or all went away. A customer socket that
// closes here after the customer came back on another node changes
// nothing.
func (m *Manager) SetConnected(id string, customer, connected bool) {
	ctx, cancel := m.ctx()
	defer cancel()
	node := m.kv.Node()
	m.mu.Lock()
	changes, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		if r.State == Ended {
			return nil, errNoChange
		}
		now := m.cfg.Now()
		if customer {
			switch {
			case connected && r.CustomerConnected && r.CustomerOn == node:
				return nil, errNoChange
			case !connected && (!r.CustomerConnected || r.CustomerOn != node):
				return nil, errNoChange
			}
			r.CustomerConnected = connected
			r.CustomerOn = ""
			if connected {
				r.CustomerOn = node
			}
			r.CustomerSeen = r.CustomerSeen || connected
			r.CustomerSeenAt = now
		} else {
			has := slices.Contains(r.StaffOn, node)
			if has == connected {
				return nil, errNoChange
			}
			if connected {
				r.StaffOn = append(r.StaffOn, node)
			} else {
				r.StaffOn = slices.DeleteFunc(r.StaffOn, func(n string) bool { return n == node })
			}
			if r.StaffConnected == (len(r.StaffOn) > 0) {
				return nil, nil // another node's staff still there: nothing to announce
			}
			r.StaffConnected = len(r.StaffOn) > 0
			r.StaffSeenAt = now
		}
		out := r.session()
		return []Change{{Session: out, Prev: out.State}}, nil
	})
	m.warn("session: record a connection", id, err)
	m.unlockAndNotify(changes...)
}

// Pause withholds content for reason; Resume lets it flow again. Both are
// no-ops unless the session is active.
func (m *Manager) Pause(id, reason string) { m.setActiveState(id, Paused, reason) }

// Resume returns a paused session to live.
func (m *Manager) Resume(id string) { m.setActiveState(id, Live, "") }

func (m *Manager) setActiveState(id string, st State, reason string) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	changes, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		if !r.Active() || (r.State == st && r.Reason == reason) {
			return nil, errNoChange
		}
		prev := r.State
		r.State, r.Reason = st, reason
		return []Change{{Session: r.session(), Prev: prev}}, nil
	})
	m.warn("session: pause or resume", id, err)
	m.unlockAndNotify(changes...)
}

// End ends a session with reason. Ending an ended session returns
// apperr.ErrEnded and changes nothing.
func (m *Manager) End(id, reason string) (Session, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	changes, r, err := m.endOne(ctx, id, reason, func(*record) bool { return true })
	if err != nil {
		m.mu.Unlock()
		if errors.Is(err, apperr.ErrEnded) && r != nil {
			return r.session(), err
		}
		return Session{}, err
	}
	m.unlockAndNotify(changes...)
	return changes[0].Session, nil
}

// endOne ends session id with reason if when(record) still holds on the
// record as stored, then frees what the session held. Of several nodes
// ending a session at once, one does it.
func (m *Manager) endOne(ctx context.Context, id, reason string, when func(*record) bool) ([]Change, *record, error) {
	var freed []string
	changes, r, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		if r.State == Ended {
			return nil, apperr.ErrEnded
		}
		if !when(r) {
			return nil, errNoChange
		}
		freed = freed[:0]
		if r.Code != "" {
			freed = append(freed, codeKey(r.Code))
		}
		freed = append(freed, r.Place)
		return []Change{m.endRecord(r, reason)}, nil
	})
	if err == nil && len(changes) > 0 {
		for _, k := range freed {
			m.release(ctx, k, id)
		}
	}
	return changes, r, err
}

// endRecord ends r: its code and place go, its requests are told.
func (m *Manager) endRecord(r *record, reason string) Change {
	prev := r.State
	now := m.cfg.Now()
	r.Code = ""
	r.Place = ""
	for _, p := range r.Pending {
		if p.Outcome == RequestPending {
			p.Outcome, p.Decided = RequestGone, now
		}
	}
	r.Requests = nil
	r.State, r.Reason = Ended, reason
	r.EndedAt = now
	r.Handover = nil
	r.Warned = false
	return Change{Session: r.session(), Prev: prev}
}

// EndAll ends every open session, e.g. when a single node stops.
func (m *Manager) EndAll(reason string) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	var changes []Change
	for _, r := range m.records() {
		if r.State == Ended {
			continue
		}
		c, _, err := m.endOne(ctx, r.ID, reason, func(*record) bool { return true })
		m.warn("session: end", r.ID, err)
		changes = append(changes, c...)
	}
	m.unlockAndNotify(changes...)
}

// Sweep applies the time limits: expired codes, customers gone past the
// grace period, sessions without staff, sessions at their maximum length.
// It also frees what dead nodes held and forgets old ended sessions and
// their tokens. Every node sweeps; each decision is taken again on the
// record as stored, so exactly one node applies it.
func (m *Manager) Sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 4*opTimeout)
	defer cancel()
	m.mu.Lock()
	now := m.cfg.Now()
	var changes []Change
	// One listing serves every part of the sweep: with a thousand sessions
	// listing them is most of a sweep's cost. What the parts change, each
	// reads again before it writes; what a listing misses, the next
	// sweep's sees.
	recs := m.records()
	for _, seen := range recs {
		if seen.State == Ended {
			continue
		}
		if m.holdsDeadNodes(seen) {
			changes = append(changes, m.forgetDeadNodes(ctx, seen.ID)...)
		}
		if reason := m.due(seen, now); reason != "" {
			c, _, err := m.endOne(ctx, seen.ID, reason, func(r *record) bool { return m.due(r, now) == reason })
			m.warn("session: sweep", seen.ID, err)
			changes = append(changes, c...)
			continue
		}
		if seen.Active() && !seen.Warned && now.Sub(seen.JoinedAt) >= m.cfg.MaxDuration-m.cfg.WarnBefore {
			c, _, _ := m.update(ctx, seen.ID, func(r *record) ([]Change, error) {
				if !r.Active() || r.Warned {
					return nil, errNoChange
				}
				r.Warned = true
				return []Change{{Session: r.session(), Prev: r.State, Warning: m.cfg.MaxDuration - now.Sub(r.JoinedAt)}}, nil
			})
			changes = append(changes, c...)
		}
	}
	changes = append(changes, m.sweepRequests(ctx, recs, now)...)
	changes = append(changes, m.sweepHandovers(ctx, recs, now)...)
	m.forget(ctx, recs, now)
	m.unlockAndNotify(changes...)
}

// due names the reason r should end now, or "".
func (m *Manager) due(r *record, now time.Time) string {
	switch {
	case r.State == Waiting && !now.Before(r.ExpiresAt):
		return ReasonExpired
	case r.Active() && !r.CustomerConnected && r.CustomerSeen && now.Sub(r.CustomerSeenAt) >= m.cfg.Grace:
		return ReasonCustomerLost
	case r.Active() && !r.CustomerSeen && now.Sub(r.JoinedAt) >= m.cfg.ConfirmWithin:
		// Joined with the code but never confirmed the staff member's name.
		return ReasonCustomerLost
	case r.Active() && !r.StaffConnected && now.Sub(r.StaffSeenAt) >= m.cfg.StaffIdle:
		return ReasonStaffIdle
	case r.Active() && now.Sub(r.JoinedAt) >= m.cfg.MaxDuration:
		return ReasonMaxDuration
	}
	return ""
}

// holdsDeadNodes reports whether r counts sockets on a node that died.
func (m *Manager) holdsDeadNodes(r *record) bool {
	if r.CustomerConnected && r.CustomerOn != "" && !m.kv.Alive(r.CustomerOn) {
		return true
	}
	for _, n := range r.StaffOn {
		if !m.kv.Alive(n) {
			return true
		}
	}
	for _, w := range r.Watching {
		for n := range w.Sockets {
			if !m.kv.Alive(n) {
				return true
			}
		}
	}
	return false
}

// forgetDeadNodes drops the sockets of dead nodes from a session: its
// customer then counts as gone since now, so the grace period gives the
// customer's page time to reconnect through another node.
func (m *Manager) forgetDeadNodes(ctx context.Context, id string) []Change {
	now := m.cfg.Now()
	changes, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		if r.State == Ended || !m.holdsDeadNodes(r) {
			return nil, errNoChange
		}
		if r.CustomerConnected && r.CustomerOn != "" && !m.kv.Alive(r.CustomerOn) {
			r.CustomerConnected, r.CustomerOn, r.CustomerSeenAt = false, "", now
		}
		r.StaffOn = slices.DeleteFunc(r.StaffOn, func(n string) bool { return !m.kv.Alive(n) })
		if r.StaffConnected && len(r.StaffOn) == 0 {
			r.StaffConnected, r.StaffSeenAt = false, now
		}
		for id, w := range r.Watching {
			for n := range w.Sockets {
				if !m.kv.Alive(n) {
					delete(w.Sockets, n)
				}
			}
			if w.total() == 0 {
				delete(r.Watching, id)
			}
		}
		return []Change{{Session: r.session(), Prev: r.State}}, nil
	})
	m.warn("session: free a dead node's sockets", id, err)
	return changes
}

// placeGrace is how long a place may name a session that does not name it
// back before the sweep frees it: the time between taking a place and
// recording it, on a node that may die in between.
const placeGrace = 30 * time.Second

// forget removes ended sessions past their retention (or beyond the
// history kept), the keys of their tokens, lapsed hand-off tokens, and
// places and codes whose session no longer holds them.
func (m *Manager) forget(ctx context.Context, recs []*record, now time.Time) {
	byID := make(map[string]*record, len(recs))
	var ended []*record
	for _, r := range recs {
		byID[r.ID] = r
		if r.State == Ended {
			ended = append(ended, r)
		}
	}
	sort.Slice(ended, func(i, j int) bool { return ended[i].EndedAt.After(ended[j].EndedAt) })
	for i, r := range ended {
		if i >= m.cfg.MaxEndedHistory || now.Sub(r.EndedAt) >= m.cfg.EndedRetention {
			m.dropKeys(ctx, r)
			if err := m.kv.Delete(ctx, sessionKey(r.ID), 0); err != nil {
				m.cfg.Log.Warn("session store: forget", "session", r.ID, "err", err)
			}
			delete(byID, r.ID)
			m.cache.forget(sessionKey(r.ID))
			continue
		}
		if !r.TokensForgotten && now.Sub(r.EndedAt) >= m.cfg.TokenAfterEnd {
			m.dropKeys(ctx, r)
			m.update(ctx, r.ID, func(r *record) ([]Change, error) {
				r.TokensForgotten, r.Tokens, r.Handoffs = true, nil, nil
				return nil, nil
			})
		}
	}
	for _, r := range byID {
		if r.State == Ended {
			continue
		}
		var lapsed []string
		for h, exp := range r.Handoffs {
			if !now.Before(exp) {
				lapsed = append(lapsed, h)
			}
		}
		if len(lapsed) > 0 {
			for _, h := range lapsed {
				m.drop(ctx, handoffKey(h))
			}
			m.update(ctx, r.ID, func(r *record) ([]Change, error) {
				for _, h := range lapsed {
					delete(r.Handoffs, h)
				}
				return nil, nil
			})
		}
	}
	for _, kind := range []string{livePlaces, waitingPlaces} {
		for _, e := range m.kv.List(kind + ".") {
			id, at := parsePlace(e.Value)
			if r := byID[id]; (r == nil || r.Place != e.Key) && now.Sub(at) >= placeGrace {
				m.release(ctx, e.Key, id)
			}
		}
	}
	for _, e := range m.kv.List("c.") {
		if r := byID[string(e.Value)]; r == nil || codeKey(r.Code) != e.Key {
			if r != nil || now.Sub(m.cache.firstSeen(e.Key, now)) >= placeGrace {
				m.release(ctx, e.Key, string(e.Value))
			}
		}
	}
	m.cache.prune(func(key string) bool {
		id, _ := strings.CutPrefix(key, "s.")
		return byID[id] != nil
	})
}

// dropKeys deletes the token keys of an ended session.
func (m *Manager) dropKeys(ctx context.Context, r *record) {
	if r.TokensForgotten {
		return
	}
	for _, h := range r.Tokens {
		m.drop(ctx, tokenKey(h))
	}
	for h := range r.Pending {
		m.drop(ctx, requestKey(h))
	}
	for h := range r.Handoffs {
		m.drop(ctx, handoffKey(h))
	}
}

// Run sweeps every interval until ctx is done.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Sweep()
		}
	}
}

// wakeSet lets the polls of a session's join requests wait for its next
// change.
type wakeSet struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (w *wakeSet) init() { w.ch = make(map[string]chan struct{}) }

// wait returns a channel closed at the session's next change.
func (w *wakeSet) wait(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.ch[id]
	if !ok {
		c = make(chan struct{})
		w.ch[id] = c
	}
	return c
}

func (w *wakeSet) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.ch[id]; ok {
		close(c)
		delete(w.ch, id)
	}
}

// recordCache keeps decoded records by key and revision, so reading a
// session many times decodes it once. Its records are shared: never
// changed.
type recordCache struct {
	mu    sync.RWMutex // read on every relayed message
	recs  map[string]cached
	first map[string]time.Time // when an orphan-looking key was first seen
}

type cached struct {
	rev uint64
	rec *record
}

func (c *recordCache) init() {
	c.recs = make(map[string]cached)
	c.first = make(map[string]time.Time)
}

func (c *recordCache) decode(e Entry) (*record, error) {
	c.mu.RLock()
	if got, ok := c.recs[e.Key]; ok && got.rev == e.Rev {
		c.mu.RUnlock()
		return got.rec, nil
	}
	c.mu.RUnlock()
	r, err := decodeRecord(e.Value)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if got, ok := c.recs[e.Key]; !ok || got.rev < e.Rev {
		c.recs[e.Key] = cached{rev: e.Rev, rec: r}
	}
	c.mu.Unlock()
	return r, nil
}

func (c *recordCache) forget(key string) {
	c.mu.Lock()
	delete(c.recs, key)
	c.mu.Unlock()
}

// firstSeen remembers when a key was first found without its session.
func (c *recordCache) firstSeen(key string, now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.first[key]; ok {
		return t
	}
	c.first[key] = now
	return now
}

// prune drops decoded records whose key keep rejects.
func (c *recordCache) prune(keep func(key string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.recs {
		if !keep(k) {
			delete(c.recs, k)
		}
	}
	if len(c.first) > 10000 {
		c.first = make(map[string]time.Time)
	}
}
