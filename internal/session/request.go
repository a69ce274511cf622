package session

import (
	"context"
	"encoding/binary"
	"errors"
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
	ctx, cancel := m.ctx()
	defer cancel()
	id, err := m.lookup(ctx, codeKey(code))
	if errors.Is(err, ErrNoKey) {
		return Ticket{}, apperr.ErrInvalidCode
	}
	if err != nil {
		return Ticket{}, storeError("code", err)
	}
	tok, err := newToken(m.cfg.Rand)
	if err != nil {
		return Ticket{}, err
	}
	rid, err := newToken(m.cfg.Rand)
	if err != nil {
		return Ticket{}, err
	}
	th := hashHex(tok)
	m.mu.Lock()
	// The token's key exists before the request does, so its page can poll
	// from the moment staff see it.
	if _, err := m.kv.Create(ctx, requestKey(th), []byte(id)); err != nil {
		m.mu.Unlock()
		return Ticket{}, storeError("request", err)
	}
	var check string
	refused := false
	full := m.full(ctx, livePlaces, m.cfg.MaxLive)
	changes, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		now := m.cfg.Now()
		refused = false
		if r.State != Waiting || !now.Before(r.ExpiresAt) {
			return nil, apperr.ErrInvalidCode
		}
		if full {
			// The staff on the phone must hear why the customer got nowhere.
			r.RefusedBusy++
			refused = true
			return []Change{{Session: r.session(), Prev: r.State}}, nil
		}
		var changes []Change
		if who.Client != "" {
			for h, p := range r.Pending {
				if p.Client == who.Client && p.Outcome == RequestPending {
					changes = append(changes, m.dropRequest(r, h, RequestGone, EventWithdrawn))
				}
			}
		}
		if len(r.Requests) >= m.cfg.MaxRequests {
			return nil, ErrTooManyRequests
		}
		var err error
		if check, err = checkNumber(m.cfg.Rand, r); err != nil {
			return nil, err
		}
		req := Request{ID: rid[:12], Check: check, Device: who.Device, Browser: who.Browser, At: now}
		r.Requests = append(r.Requests, req)
		if r.Pending == nil {
			r.Pending = make(map[string]*pending)
		}
		r.Pending[th] = &pending{Request: req.ID, Client: who.Client, Outcome: RequestPending, LastSeen: now}
		return append(changes, Change{Session: r.session(), Prev: r.State, Request: &req, RequestEvent: EventRequested}), nil
	})
	if err != nil || refused {
		m.drop(ctx, requestKey(th))
	}
	if errors.Is(err, apperr.ErrNotFound) {
		err = apperr.ErrInvalidCode
	}
	if err != nil {
		m.mu.Unlock()
		return Ticket{}, err
	}
	m.unlockAndNotify(changes...)
	if refused {
		return Ticket{}, apperr.ErrBusy
	}
	return Ticket{Token: tok, Check: check, Session: id}, nil
}

// checkNumber draws a two-digit number (10–99) that no other request on r
// shows, so staff can tell the requests apart by what they hear.
func checkNumber(rnd io.Reader, r *record) (string, error) {
	for range 64 {
		n, err := uniform(rnd, 90)
		if err != nil {
			return "", err
		}
		c := fmt.Sprintf("%02d", 10+n)
		if !slices.ContainsFunc(r.Requests, func(q Request) bool { return q.Check == c }) {
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

// dropRequest removes a pending request from its session and records its
// outcome for the page that still polls.
func (m *Manager) dropRequest(r *record, h, outcome, event string) Change {
	p := r.Pending[h]
	p.Outcome, p.Decided = outcome, m.cfg.Now()
	var req Request
	r.Requests = slices.DeleteFunc(r.Requests, func(q Request) bool {
		if q.ID == p.Request {
			req = q
			return true
		}
		return false
	})
	return Change{Session: r.session(), Prev: r.State, Request: &req, RequestEvent: event}
}

// Admit turns the session's request rid into the session's customer: the
// code is spent, every other request on it is turned away, and the
// customer's page learns the staff name. It fails with apperr.ErrBusy when
// the deployment is full (the request stays waiting): the live places are
// counted across every node, so two admissions cannot share the last one.
func (m *Manager) Admit(sessionID, rid string) (Session, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	// As stored now: staff may have heard of the request before this
	// node's view did.
	r, _, err := m.load(ctx, sessionID)
	if err == nil {
		_, err = requestOf(r, rid)
	}
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	place, err := m.claimPlace(ctx, livePlaces, m.cfg.MaxLive, sessionID)
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	var freed []string
	var th string
	changes, r, err := m.update(ctx, sessionID, func(r *record) ([]Change, error) {
		h, err := requestOf(r, rid)
		if err != nil {
			return nil, err
		}
		th = h
		var changes []Change
		var admitted Request
		for _, q := range r.Requests {
			if q.ID == rid {
				admitted = q
			}
		}
		for oh, p := range r.Pending {
			if p.Outcome == RequestPending && oh != h {
				changes = append(changes, m.dropRequest(r, oh, RequestGone, EventOutranked))
			}
		}
		now := m.cfg.Now()
		p := r.Pending[h]
		p.Outcome, p.Decided = RequestAdmitted, now
		freed = []string{codeKey(r.Code), r.Place}
		prev := r.State
		r.Code = ""
		r.Place = place
		r.Requests = nil
		r.State = Live
		r.Device = admitted.Device
		r.Browser = admitted.Browser
		r.JoinedAt = now
		r.CustomerSeenAt = now
		r.Tokens = append(r.Tokens, h)
		return append(changes, Change{Session: r.session(), Prev: prev, Request: &admitted, RequestEvent: RequestAdmitted}), nil
	})
	if err != nil {
		m.release(ctx, place, sessionID)
		m.mu.Unlock()
		return Session{}, err
	}
	// The request's token becomes the customer's: its socket shows it.
	if _, err := m.kv.Create(ctx, tokenKey(th), []byte(sessionID)); err != nil && !errors.Is(err, ErrExists) {
		m.cfg.Log.Warn("session store: customer token", "session", sessionID, "err", err)
	}
	for _, k := range freed {
		m.release(ctx, k, sessionID)
	}
	out := r.session()
	m.unlockAndNotify(changes...)
	return out, nil
}

// requestOf finds the token hash of a pending request on a waiting session.
func requestOf(r *record, rid string) (string, error) {
	if r.State != Waiting {
		return "", ErrRequestUnknown
	}
	for h, p := range r.Pending {
		if p.Request == rid && p.Outcome == RequestPending {
			return h, nil
		}
	}
	return "", ErrRequestUnknown
}

// Decline turns a request away; the customer's page hears it at once.
func (m *Manager) Decline(sessionID, rid string) error {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	changes, _, err := m.update(ctx, sessionID, func(r *record) ([]Change, error) {
		h, err := requestOf(r, rid)
		if err != nil {
			return nil, err
		}
		return []Change{m.dropRequest(r, h, RequestDeclined, EventDeclined)}, nil
	})
	if err != nil {
		m.mu.Unlock()
		return err
	}
	m.unlockAndNotify(changes...)
	return nil
}

// Withdraw takes back the request of token tok (the customer cancelled).
// It reports whether tok was a waiting request.
func (m *Manager) Withdraw(tok string) bool {
	ctx, cancel := m.ctx()
	defer cancel()
	h := hashHex(tok)
	id, err := m.lookup(ctx, requestKey(h))
	if err != nil {
		return false
	}
	m.mu.Lock()
	changes, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		p, ok := r.Pending[h]
		if !ok || p.Outcome != RequestPending {
			return nil, ErrRequestUnknown
		}
		return []Change{m.dropRequest(r, h, RequestGone, EventWithdrawn)}, nil
	})
	if err != nil {
		m.mu.Unlock()
		return false
	}
	m.unlockAndNotify(changes...)
	return true
}

// WaitRequest answers the poll of the request with token tok: at once when
// it has been decided, otherwise when it is decided or at most wait later
// (then still pending). Each poll also shows the request is still wanted;
// a request nobody polls lapses (see Sweep). An unknown token gives
// apperr.ErrUnauthorized. The decision may be taken on another node.
func (m *Manager) WaitRequest(ctx context.Context, tok string, wait time.Duration) (Status, error) {
	h := hashHex(tok)
	opCtx, cancel := m.ctx()
	id, err := m.lookup(opCtx, requestKey(h))
	cancel()
	if errors.Is(err, ErrNoKey) {
		return Status{}, apperr.ErrUnauthorized
	}
	if err != nil {
		return Status{}, storeError("request", err)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	held := false
	defer func() {
		if held {
			m.mu.Lock()
			if m.waiters[h]--; m.waiters[h] <= 0 {
				delete(m.waiters, h)
			}
			m.mu.Unlock()
		}
	}()
	for {
		// Listen before reading, so a change in between still wakes us.
		wake := m.wakes.wait(id)
		st, err := m.pollOnce(id, h)
		if err != nil {
			return Status{}, err
		}
		if st.Outcome != RequestPending {
			return st, nil
		}
		if !held {
			m.mu.Lock()
			if m.waiters[h] >= maxWaiters {
				m.mu.Unlock()
				return st, nil // answered at once: this poll holds nothing open
			}
			m.waiters[h]++
			held = true
			m.mu.Unlock()
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

// pollOnce reads a request's outcome and notes that its page still asks;
// the note is written at most every quarter of the idle limit.
func (m *Manager) pollOnce(id, h string) (Status, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	r, err := m.read(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Status{}, apperr.ErrUnauthorized
	}
	if err != nil {
		return Status{}, err
	}
	p, ok := r.Pending[h]
	if !ok {
		return Status{}, apperr.ErrUnauthorized
	}
	st := Status{Outcome: p.Outcome}
	switch p.Outcome {
	case RequestAdmitted:
		st.Session = r.session()
	case RequestPending:
		for _, q := range r.Requests {
			if q.ID == p.Request {
				st.Check = q.Check
			}
		}
		now := m.cfg.Now()
		if now.Sub(p.LastSeen) >= m.cfg.RequestIdle/4 {
			m.mu.Lock()
			_, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
				if p := r.Pending[h]; p != nil && p.Outcome == RequestPending {
					p.LastSeen = now
					return nil, nil
				}
				return nil, errNoChange
			})
			m.mu.Unlock()
			if err != nil {
				m.cfg.Log.Warn("session store: note a poll", "session", id, "err", err)
			}
		}
	}
	return st, nil
}

// sweepRequests lapses requests whose page stopped polling, ends the
// requests of sessions that are no longer waiting, and forgets decided
// requests once their page has had time to hear the outcome.
func (m *Manager) sweepRequests(ctx context.Context, recs []*record, now time.Time) []Change {
	var changes []Change
	for _, seen := range recs {
		if !requestsDue(seen, now, m.cfg) {
			continue
		}
		var gone []string
		c, _, err := m.update(ctx, seen.ID, func(r *record) ([]Change, error) {
			gone = gone[:0]
			var changes []Change
			for h, p := range r.Pending {
				switch {
				case p.Outcome == RequestPending && r.State != Waiting:
					p.Outcome, p.Decided = RequestGone, now
				case p.Outcome == RequestPending && now.Sub(p.LastSeen) >= m.cfg.RequestIdle:
					changes = append(changes, m.dropRequest(r, h, RequestGone, EventLapsed))
				case p.Outcome != RequestPending && now.Sub(p.Decided) >= m.cfg.TokenAfterEnd:
					delete(r.Pending, h)
					gone = append(gone, h)
				}
			}
			return changes, nil
		})
		if err != nil {
			m.warn("session: sweep requests", seen.ID, err)
			continue
		}
		for _, h := range gone {
			m.drop(ctx, requestKey(h))
		}
		changes = append(changes, c...)
	}
	return changes
}

// requestsDue reports whether any request of r has something for the sweep.
func requestsDue(r *record, now time.Time, cfg Config) bool {
	for _, p := range r.Pending {
		switch {
		case p.Outcome == RequestPending && (r.State != Waiting || now.Sub(p.LastSeen) >= cfg.RequestIdle):
			return true
		case p.Outcome != RequestPending && now.Sub(p.Decided) >= cfg.TokenAfterEnd:
			return true
		}
	}
	return false
}
