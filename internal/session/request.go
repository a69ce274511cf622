package session

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
)

// A join request is what a correct code buys: a place in the staff's list,
// not a session. Nothing is shared and the staff name stays hidden until
// the staff admits the request whose check number the customer reads out
// on the phone, so a guessed code yields nothing, and because several
// requests may wait on one code, a guesser cannot lock the real customer
// out either. See docs/security.md.

// Request is one customer's request to join a waiting session, as staff see it.
type Request struct {
	ID      string    `json:"id"`
	Check   string    `json:"check"`   // two digits the customer's screen shows
	Device  string    `json:"device"`  // pc, tablet, phone
	Browser string    `json:"browser"` // e.g. "Safari / iOS"
	At      time.Time `json:"at"`
}

// Request outcomes, as the customer's page hears them.
const (
	RequestPending  = "pending"
	RequestAdmitted = "admitted"
	RequestDeclined = "declined" // staff said no
	RequestGone     = "gone"     // the code expired, the session ended, or another request was admitted
)

// Request events in Change.RequestEvent.
const (
	EventRequested = "requested"
	EventDeclined  = "declined"  // by staff
	EventWithdrawn = "withdrawn" // by the customer
	EventLapsed    = "lapsed"    // the customer's page stopped asking
	EventOutranked = "outranked" // another request was admitted
)

// ErrTooManyRequests answers a correct code that already has the most join
// requests a code may have waiting.
var ErrTooManyRequests = apperr.New(http.StatusConflict, "too_many_requests", "too many people are waiting to join with this code")

// ErrRequestUnknown answers a request id that is not waiting on the session.
var ErrRequestUnknown = apperr.New(http.StatusNotFound, "request_unknown", "that join request is no longer waiting")

// JoinInfo describes who asks to join.
type JoinInfo struct {
	Device  string
	Browser string
	// Client keys the request's origin (an address or /64 prefix): a new
	// request from the same client replaces its earlier one on that code,
	// so one client holds at most one place.
	Client string
}

// Ticket is what the customer's page gets for a request.
type Ticket struct {
	Token   string // authenticates the polls, then (once admitted) the socket
	Check   string
	Session string
}

// pending is a request's private side, keyed by its token hash.
type pending struct {
	session  string
	request  string
	client   string
	outcome  string // RequestPending until decided
	lastSeen time.Time
	decided  time.Time
	waiters  int // polls held open now
}

// maxWaiters bounds the polls one request may hold open: a page needs one,
// and a token must not buy an unbounded number of parked connections.
const maxWaiters = 2

// Status is what a request's poll answers.
type Status struct {
	Outcome string
	Check   string
	Session Session // set when admitted
}

// RequestJoin places a join request on the waiting session that code
// names. Any wrong, expired or used code gives apperr.ErrInvalidCode, so
// the answer reveals nothing; a full deployment gives apperr.ErrBusy.
func (m *Manager) RequestJoin(code string, who JoinInfo) (Ticket, error) {
	if !validCodeFormat(code) {
		return Ticket{}, apperr.ErrInvalidCode
	}
	m.mu.Lock()
	id, ok := m.byCode[code]
	s := m.byID[id]
	now := m.cfg.Now()
	if !ok || s == nil || s.State != Waiting || !now.Before(s.ExpiresAt) {
		m.mu.Unlock()
		return Ticket{}, apperr.ErrInvalidCode
	}
	if _, active := m.countsLocked(); active >= m.cfg.MaxLive {
		// The staff on the phone must hear why the customer got nowhere.
		s.RefusedBusy++
		c := Change{Session: s.snapshot(), Prev: s.State}
		m.unlockAndNotify(c)
		return Ticket{}, apperr.ErrBusy
	}
	var changes []Change
	if who.Client != "" {
		for h, p := range m.pending {
			if p.session == id && p.client == who.Client && p.outcome == RequestPending {
				changes = append(changes, m.dropRequestLocked(s, h, RequestGone, EventWithdrawn))
			}
		}
	}
	if len(s.Requests) >= m.cfg.MaxRequests {
		m.unlockAndNotify(changes...)
		return Ticket{}, ErrTooManyRequests
	}
	tok, err := newToken(m.cfg.Rand)
	if err != nil {
		m.unlockAndNotify(changes...)
		return Ticket{}, err
	}
	rid, err := newToken(m.cfg.Rand)
	if err != nil {
		m.unlockAndNotify(changes...)
		return Ticket{}, err
	}
	check, err := m.checkNumberLocked(s)
	if err != nil {
		m.unlockAndNotify(changes...)
		return Ticket{}, err
	}
	req := Request{ID: rid[:12], Check: check, Device: who.Device, Browser: who.Browser, At: now}
	s.Requests = append(s.Requests, req)
	m.pending[hashToken(tok)] = &pending{session: id, request: req.ID, client: who.Client, outcome: RequestPending, lastSeen: now}
	changes = append(changes, Change{Session: s.snapshot(), Prev: s.State, Request: &req, RequestEvent: EventRequested})
	m.wakeLocked()
	m.unlockAndNotify(changes...)
	return Ticket{Token: tok, Check: check, Session: id}, nil
}

// checkNumberLocked draws a two-digit number (10–99) that no other request
// on s shows, so staff can tell the requests apart by what they hear.
func (m *Manager) checkNumberLocked(s *Session) (string, error) {
	for range 64 {
		n, err := uniform(m.cfg.Rand, 90)
		if err != nil {
			return "", err
		}
		c := fmt.Sprintf("%02d", 10+n)
		if !slices.ContainsFunc(s.Requests, func(r Request) bool { return r.Check == c }) {
			return c, nil
		}
	}
	return "", fmt.Errorf("no free check number after 64 draws")
}

// uniform draws an integer in [0, n) without modulo bias.
func uniform(r io.Reader, n uint32) (uint32, error) {
	limit := (1 << 32) / uint64(n) * uint64(n)
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("read random number: %w", err)
		}
		if v := uint64(binary.BigEndian.Uint32(b[:])); v < limit {
			return uint32(v % uint64(n)), nil
		}
	}
}

// dropRequestLocked removes a pending request from its session and records
// its outcome for the page that still polls.
func (m *Manager) dropRequestLocked(s *Session, h [32]byte, outcome, event string) Change {
	p := m.pending[h]
	p.outcome, p.decided = outcome, m.cfg.Now()
	var req Request
	s.Requests = slices.DeleteFunc(s.Requests, func(r Request) bool {
		if r.ID == p.request {
			req = r
			return true
		}
		return false
	})
	return Change{Session: s.snapshot(), Prev: s.State, Request: &req, RequestEvent: event}
}

// Admit turns the session's request rid into the session's customer: the
// code is spent, every other request on it is turned away, and the
// customer's page learns the staff name. It fails with apperr.ErrBusy when
// the deployment is full (the request stays waiting).
func (m *Manager) Admit(sessionID, rid string) (Session, error) {
	m.mu.Lock()
	s, h, err := m.requestLocked(sessionID, rid)
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	if _, active := m.countsLocked(); active >= m.cfg.MaxLive {
		m.mu.Unlock()
		return Session{}, apperr.ErrBusy
	}
	var changes []Change
	var admitted Request
	for _, r := range s.Requests {
		if r.ID == rid {
			admitted = r
		}
	}
	for oh, p := range m.pending {
		if p.session == sessionID && p.outcome == RequestPending && oh != h {
			changes = append(changes, m.dropRequestLocked(s, oh, RequestGone, EventOutranked))
		}
	}
	p := m.pending[h]
	p.outcome, p.decided = RequestAdmitted, m.cfg.Now()
	now := m.cfg.Now()
	delete(m.byCode, s.Code)
	prev := s.State
	s.Code = ""
	s.Requests = nil
	s.State = Live
	s.Device = admitted.Device
	s.Browser = admitted.Browser
	s.JoinedAt = now
	s.LastCustomerSeen = now
	m.byToken[h] = sessionID
	out := s.snapshot()
	changes = append(changes, Change{Session: out, Prev: prev, Request: &admitted, RequestEvent: RequestAdmitted})
	m.wakeLocked()
	m.unlockAndNotify(changes...)
	return out, nil
}

// Decline turns a request away; the customer's page hears it at once.
func (m *Manager) Decline(sessionID, rid string) error {
	m.mu.Lock()
	s, h, err := m.requestLocked(sessionID, rid)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	c := m.dropRequestLocked(s, h, RequestDeclined, EventDeclined)
	m.wakeLocked()
	m.unlockAndNotify(c)
	return nil
}

// Withdraw takes back the request of token tok (the customer cancelled).
// It reports whether tok was a waiting request.
func (m *Manager) Withdraw(tok string) bool {
	m.mu.Lock()
	h := hashToken(tok)
	p, ok := m.pending[h]
	if !ok || p.outcome != RequestPending {
		m.mu.Unlock()
		return false
	}
	c := m.dropRequestLocked(m.byID[p.session], h, RequestGone, EventWithdrawn)
	m.wakeLocked()
	m.unlockAndNotify(c)
	return true
}

func (m *Manager) requestLocked(sessionID, rid string) (*Session, [32]byte, error) {
	s, ok := m.byID[sessionID]
	if !ok {
		return nil, [32]byte{}, apperr.ErrNotFound
	}
	if s.State != Waiting {
		return nil, [32]byte{}, ErrRequestUnknown
	}
	for h, p := range m.pending {
		if p.session == sessionID && p.request == rid && p.outcome == RequestPending {
			return s, h, nil
		}
	}
	return nil, [32]byte{}, ErrRequestUnknown
}

// WaitRequest answers the poll of the request with token tok: at once when
// it has been decided, otherwise when it is decided or at most wait later
// (then still pending). Each poll also shows the request is still wanted;
// a request nobody polls lapses (see Sweep). An unknown token gives
// apperr.ErrUnauthorized.
func (m *Manager) WaitRequest(ctx context.Context, tok string, wait time.Duration) (Status, error) {
	h := hashToken(tok)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	held := false
	defer func() {
		if held {
			m.mu.Lock()
			if p, ok := m.pending[h]; ok {
				p.waiters--
			}
			m.mu.Unlock()
		}
	}()
	for {
		m.mu.Lock()
		p, ok := m.pending[h]
		if !ok {
			m.mu.Unlock()
			return Status{}, apperr.ErrUnauthorized
		}
		st := Status{Outcome: p.outcome}
		s := m.byID[p.session]
		switch {
		case p.outcome == RequestAdmitted && s != nil:
			st.Session = s.snapshot()
		case p.outcome == RequestPending && s != nil:
			p.lastSeen = m.cfg.Now()
			for _, r := range s.Requests {
				if r.ID == p.request {
					st.Check = r.Check
				}
			}
		}
		wake := m.wake
		if st.Outcome == RequestPending && !held {
			if p.waiters >= maxWaiters {
				m.mu.Unlock()
				return st, nil // answered at once: this poll holds nothing open
			}
			p.waiters++
			held = true
		}
		m.mu.Unlock()
		if st.Outcome != RequestPending {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, nil
		case <-timer.C:
			return st, nil
		case <-wake:
		}
	}
}

// wakeLocked tells every waiting poll to look again.
func (m *Manager) wakeLocked() {
	close(m.wake)
	m.wake = make(chan struct{})
}

// sweepRequestsLocked lapses requests whose page stopped polling, ends the
// requests of sessions that are no longer waiting, and forgets decided
// requests once their page has had time to hear the outcome.
func (m *Manager) sweepRequestsLocked(now time.Time) []Change {
	var changes []Change
	for h, p := range m.pending {
		s := m.byID[p.session]
		switch {
		case p.outcome == RequestPending && (s == nil || s.State != Waiting):
			p.outcome, p.decided = RequestGone, now
		case p.outcome == RequestPending && now.Sub(p.lastSeen) >= m.cfg.RequestIdle:
			changes = append(changes, m.dropRequestLocked(s, h, RequestGone, EventLapsed))
		case p.outcome != RequestPending && now.Sub(p.decided) >= m.cfg.TokenAfterEnd:
			delete(m.pending, h)
		}
	}
	if len(changes) > 0 {
		m.wakeLocked()
	}
	return changes
}
