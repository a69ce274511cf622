package session

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
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

// Manager keeps the sessions of one node. It is safe for concurrent use.
type Manager struct {
	cfg Config

	mu       sync.Mutex
	byID     map[string]*Session
	byCode   map[string]string   // live codes → session id
	byToken  map[[32]byte]string // customer token hash → session id
	handoffs map[[32]byte]handoff
	pending  map[[32]byte]*pending // join requests by token hash
	wake     chan struct{}         // closed and replaced when a request is decided
	warned   map[string]bool

	// notifyMu keeps listener calls serialised and in change order; it is
	// taken before mu is released, so no later change can overtake.
	notifyMu  sync.Mutex
	listenMu  sync.Mutex
	listeners map[int]func(Change)
	nextID    int
}

// NewManager returns a manager, or an error when cfg is incomplete.
func NewManager(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Manager{
		cfg:       cfg,
		byID:      make(map[string]*Session),
		byCode:    make(map[string]string),
		byToken:   make(map[[32]byte]string),
		handoffs:  make(map[[32]byte]handoff),
		pending:   make(map[[32]byte]*pending),
		wake:      make(chan struct{}),
		warned:    make(map[string]bool),
		listeners: make(map[int]func(Change)),
	}, nil
}

// Subscribe calls fn after every change, serialised and in the order the
// changes happened, until the returned cancel is called. fn may block
// briefly (an audit write) but must not call back into the Manager.
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

// Counts reports waiting and active (live or paused) sessions.
func (m *Manager) Counts() (waiting, active int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.countsLocked()
}

func (m *Manager) countsLocked() (waiting, active int) {
	for _, s := range m.byID {
		switch {
		case s.State == Waiting:
			waiting++
		case s.Active():
			active++
		}
	}
	return waiting, active
}

// Create issues a new join code for a staff member. It fails with
// apperr.ErrBusy when a capacity limit is reached.
func (m *Manager) Create(staffID int64, staffName string) (Session, error) {
	m.mu.Lock()
	waiting, active := m.countsLocked()
	if waiting >= m.cfg.MaxWaiting {
		m.mu.Unlock()
		return Session{}, busy("too many codes are waiting for customers")
	}
	// A code issued now could not be used: say so to the staff on the
	// phone rather than let the customer be refused later.
	if active >= m.cfg.MaxLive {
		m.mu.Unlock()
		return Session{}, ErrFull
	}
	if m.atStaffLimitLocked(staffID) {
		m.mu.Unlock()
		return Session{}, ErrTooManyOpen
	}
	code, err := m.uniqueCodeLocked()
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	id, err := newToken(m.cfg.Rand)
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	id = id[:16]
	now := m.cfg.Now()
	s := &Session{
		ID: id, Code: code, StaffID: staffID, StaffName: staffName, State: Waiting,
		CreatedAt: now, ExpiresAt: now.Add(m.cfg.CodeTTL), LastStaffSeen: now,
		Presenters: []Member{{StaffID: staffID, Name: staffName, Colour: 0}}, nextColour: 1,
	}
	m.byID[id] = s
	m.byCode[code] = id
	out := s.snapshot()
	m.unlockAndNotify(Change{Session: out, Prev: ""})
	return out, nil
}

// atStaffLimitLocked reports whether staffID has as many open (waiting,
// live or paused) sessions in their charge as one person may.
func (m *Manager) atStaffLimitLocked(staffID int64) bool {
	open := 0
	for _, s := range m.byID {
		if s.StaffID == staffID && s.State != Ended {
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

func (m *Manager) uniqueCodeLocked() (string, error) {
	// With at most MaxWaiting of a million codes taken, 20 draws all colliding
	// means the random source is broken, not bad luck.
	for range 20 {
		c, err := newCode(m.cfg.Rand)
		if err != nil {
			return "", err
		}
		if _, taken := m.byCode[c]; !taken {
			return c, nil
		}
	}
	return "", fmt.Errorf("no unique code after 20 draws")
}

// ByToken finds the session a customer token belongs to. The token stays
// recognised for a short while after the end so a reconnecting page can be
// told the session is over; callers check State.
func (m *Manager) ByToken(tok string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byToken[hashToken(tok)]
	if !ok {
		return Session{}, apperr.ErrUnauthorized
	}
	s, ok := m.byID[id]
	if !ok {
		return Session{}, apperr.ErrUnauthorized
	}
	return s.snapshot(), nil
}

// handoff is a one-time token that carries a session to another of the
// bank's origins (homepage → internet banking).
type handoff struct {
	session string
	expires time.Time
}

// Handoff issues a one-time, short-lived token for the session of the
// customer token tok.
func (m *Manager) Handoff(tok string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byToken[hashToken(tok)]
	s := m.byID[id]
	if !ok || s == nil || !s.Active() {
		return "", apperr.ErrUnauthorized
	}
	n := 0
	for _, h := range m.handoffs {
		if h.session == id {
			n++
		}
	}
	if n >= m.cfg.MaxHandoffs {
		return "", apperr.ErrRateLimited
	}
	h, err := newToken(m.cfg.Rand)
	if err != nil {
		return "", err
	}
	m.handoffs[hashToken(h)] = handoff{session: id, expires: m.cfg.Now().Add(m.cfg.HandoffTTL)}
	return h, nil
}

// ErrHandoff answers a used, expired or unknown hand-off token.
var ErrHandoff = apperr.New(401, "invalid_handoff", "the link to continue screen sharing has expired or was already used")

// Redeem spends a hand-off token and returns a new customer token for the
// same session. A token works once.
func (m *Manager) Redeem(h string) (Session, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := hashToken(h)
	ho, ok := m.handoffs[key]
	delete(m.handoffs, key)
	if !ok || !m.cfg.Now().Before(ho.expires) {
		return Session{}, "", ErrHandoff
	}
	s := m.byID[ho.session]
	if s == nil || !s.Active() {
		return Session{}, "", ErrHandoff
	}
	tok, err := newToken(m.cfg.Rand)
	if err != nil {
		return Session{}, "", err
	}
	m.byToken[hashToken(tok)] = s.ID
	return s.snapshot(), tok, nil
}

// Get returns a session by id.
func (m *Manager) Get(id string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	if !ok {
		return Session{}, apperr.ErrNotFound
	}
	return s.snapshot(), nil
}

// List returns a staff member's sessions, newest first: those in their
// charge, those they present on, and one waiting for them to take over.
func (m *Manager) List(staffID int64) []Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Session
	for _, s := range m.byID {
		if s.Involves(staffID) {
			out = append(out, s.snapshot())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// SetConnected records that the customer's (customer=true) or the staff's
// socket connected or went away.
func (m *Manager) SetConnected(id string, customer, connected bool) {
	m.mu.Lock()
	s, ok := m.byID[id]
	if !ok || s.State == Ended {
		m.mu.Unlock()
		return
	}
	now := m.cfg.Now()
	if customer {
		if s.CustomerConnected == connected {
			m.mu.Unlock()
			return
		}
		s.CustomerConnected = connected
		s.CustomerSeen = s.CustomerSeen || connected
		s.LastCustomerSeen = now
	} else {
		if s.StaffConnected == connected {
			m.mu.Unlock()
			return
		}
		s.StaffConnected = connected
		s.LastStaffSeen = now
	}
	out := s.snapshot()
	m.unlockAndNotify(Change{Session: out, Prev: out.State})
}

// Pause withholds content for reason; Resume lets it flow again. Both are
// no-ops unless the session is active.
func (m *Manager) Pause(id, reason string) { m.setActiveState(id, Paused, reason) }

// Resume returns a paused session to live.
func (m *Manager) Resume(id string) { m.setActiveState(id, Live, "") }

func (m *Manager) setActiveState(id string, st State, reason string) {
	m.mu.Lock()
	s, ok := m.byID[id]
	if !ok || !s.Active() || (s.State == st && s.Reason == reason) {
		m.mu.Unlock()
		return
	}
	prev := s.State
	s.State, s.Reason = st, reason
	out := s.snapshot()
	m.unlockAndNotify(Change{Session: out, Prev: prev})
}

// End ends a session with reason. Ending an ended session returns
// apperr.ErrEnded and changes nothing.
func (m *Manager) End(id, reason string) (Session, error) {
	m.mu.Lock()
	s, ok := m.byID[id]
	if !ok {
		m.mu.Unlock()
		return Session{}, apperr.ErrNotFound
	}
	if s.State == Ended {
		out := s.snapshot()
		m.mu.Unlock()
		return out, apperr.ErrEnded
	}
	c := m.endLocked(s, reason)
	m.unlockAndNotify(c)
	return c.Session, nil
}

func (m *Manager) endLocked(s *Session, reason string) Change {
	prev := s.State
	if s.Code != "" {
		delete(m.byCode, s.Code)
		s.Code = ""
	}
	if len(s.Requests) > 0 {
		for _, p := range m.pending {
			if p.session == s.ID && p.outcome == RequestPending {
				p.outcome, p.decided = RequestGone, m.cfg.Now()
			}
		}
		s.Requests = nil
		m.wakeLocked()
	}
	s.State, s.Reason = Ended, reason
	s.EndedAt = m.cfg.Now()
	s.Handover = nil
	delete(m.warned, s.ID)
	return Change{Session: s.snapshot(), Prev: prev}
}

// EndAll ends every open session, e.g. at shutdown.
func (m *Manager) EndAll(reason string) {
	m.mu.Lock()
	var changes []Change
	for _, s := range m.byID {
		if s.State != Ended {
			changes = append(changes, m.endLocked(s, reason))
		}
	}
	m.unlockAndNotify(changes...)
}

// Sweep applies the time limits: expired codes, customers gone past the
// grace period, sessions without staff, sessions at their maximum length.
// It also forgets old ended sessions and their tokens.
func (m *Manager) Sweep() {
	m.mu.Lock()
	now := m.cfg.Now()
	var changes []Change
	for _, s := range m.byID {
		switch {
		case s.State == Waiting && !now.Before(s.ExpiresAt):
			changes = append(changes, m.endLocked(s, ReasonExpired))
		case s.Active() && !s.CustomerConnected && s.CustomerSeen && now.Sub(s.LastCustomerSeen) >= m.cfg.Grace:
			changes = append(changes, m.endLocked(s, ReasonCustomerLost))
		case s.Active() && !s.CustomerSeen && now.Sub(s.JoinedAt) >= m.cfg.ConfirmWithin:
			// Joined with the code but never confirmed the staff member's name.
			changes = append(changes, m.endLocked(s, ReasonCustomerLost))
		case s.Active() && !s.StaffConnected && now.Sub(s.LastStaffSeen) >= m.cfg.StaffIdle:
			changes = append(changes, m.endLocked(s, ReasonStaffIdle))
		case s.Active() && now.Sub(s.JoinedAt) >= m.cfg.MaxDuration:
			changes = append(changes, m.endLocked(s, ReasonMaxDuration))
		case s.Active() && !m.warned[s.ID] && now.Sub(s.JoinedAt) >= m.cfg.MaxDuration-m.cfg.WarnBefore:
			m.warned[s.ID] = true
			changes = append(changes, Change{Session: s.snapshot(), Prev: s.State, Warning: m.cfg.MaxDuration - now.Sub(s.JoinedAt)})
		}
	}
	changes = append(changes, m.sweepRequestsLocked(now)...)
	changes = append(changes, m.sweepHandoversLocked(now)...)
	m.forgetLocked(now)
	m.unlockAndNotify(changes...)
}

func (m *Manager) forgetLocked(now time.Time) {
	var ended []*Session
	for _, s := range m.byID {
		if s.State == Ended {
			ended = append(ended, s)
		}
	}
	sort.Slice(ended, func(i, j int) bool { return ended[i].EndedAt.After(ended[j].EndedAt) })
	for i, s := range ended {
		if i >= m.cfg.MaxEndedHistory || now.Sub(s.EndedAt) >= m.cfg.EndedRetention {
			delete(m.byID, s.ID)
		}
	}
	for k, h := range m.handoffs {
		if !now.Before(h.expires) {
			delete(m.handoffs, k)
		}
	}
	for h, id := range m.byToken {
		s, ok := m.byID[id]
		if !ok || (s.State == Ended && now.Sub(s.EndedAt) >= m.cfg.TokenAfterEnd) {
			delete(m.byToken, h)
		}
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
