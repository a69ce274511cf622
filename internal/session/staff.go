package session

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
)

// Member is a staff member on a session. Colour is the member's own
// pointer colour for the session, an index the consoles and the SDK map to
// one palette; it also tells the customer whose pointer is whose, without
// any staff id reaching the customer's page.
type Member struct {
	StaffID int64  `json:"staff_id"`
	Name    string `json:"name"`
	Colour  int    `json:"colour"`
}

// Hand-over kinds.
const (
	// HandoverAgent passes the session to another staff member; the one
	// who passed it leaves.
	HandoverAgent = "handover"
	// HandoverTakeover lets a supervisor take the lead; the staff member
	// who had it stays on and may still point.
	HandoverTakeover = "takeover"
)

// Hand-over events in Change.HandoverEvent.
const (
	HandoverRequested = "requested"
	HandoverAccepted  = "accepted"
	HandoverDeclined  = "declined" // the customer said no
	HandoverLapsed    = "lapsed"   // the customer did not answer in time
	HandoverCancelled = "cancelled"
)

// Handover is a change of the staff in charge that waits for the
// customer: nobody new sees or points at the customer's screen as their
// agent until the customer has read the new name and agreed.
type Handover struct {
	To   Member `json:"to"`
	By   int64  `json:"by"` // who asked for it
	Kind string `json:"kind"`
}

// Errors of hand-overs and take-overs, each with its own code so the
// console can say which in the staff's language.
var (
	ErrNotJoined       = apperr.New(http.StatusConflict, "not_joined", "the customer has not joined yet; a waiting code cannot be handed over")
	ErrHandoverPending = apperr.New(http.StatusConflict, "handover_pending", "the customer is still answering an earlier hand-over")
	ErrAlreadyInCharge = apperr.New(http.StatusConflict, "already_in_charge", "that staff member already has this session")
	ErrNoHandover      = apperr.New(http.StatusConflict, "no_handover", "no hand-over is waiting for the customer")
)

// Presents reports whether staffID may point, highlight and draw on the
// customer's screen: the staff member in charge and those who were.
func (s Session) Presents(staffID int64) bool {
	return slices.ContainsFunc(s.Presenters, func(m Member) bool { return m.StaffID == staffID })
}

// Member returns staffID's membership among the presenters.
func (s Session) Member(staffID int64) (Member, bool) {
	i := slices.IndexFunc(s.Presenters, func(m Member) bool { return m.StaffID == staffID })
	if i < 0 {
		return Member{}, false
	}
	return s.Presenters[i], true
}

// Involves reports whether the session is staffID's to see as one of its
// staff: in charge, presenting, or about to take it over.
func (s Session) Involves(staffID int64) bool {
	return s.StaffID == staffID || s.Presents(staffID) || (s.Handover != nil && s.Handover.To.StaffID == staffID)
}

// Watch records a read-only console of a supervisor on the session; the
// customer is told who watches. The returned release must be called when
// that console goes. A supervisor with several consoles is listed once.
func (m *Manager) Watch(id string, staffID int64, name string) (release func(), err error) {
	ctx, cancel := m.ctx()
	defer cancel()
	node := m.kv.Node()
	m.mu.Lock()
	changes, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		if r.State == Ended {
			return nil, apperr.ErrEnded
		}
		if r.Watching == nil {
			r.Watching = make(map[int64]*watch)
		}
		w := r.Watching[staffID]
		if w == nil {
			w = &watch{Member: Member{StaffID: staffID, Name: name, Colour: -1}, Sockets: make(map[string]int)}
			r.Watching[staffID] = w
		}
		w.Sockets[node]++
		if w.total() == 1 {
			member := w.Member
			return []Change{{Session: r.session(), Prev: r.State, Watching: &member}}, nil
		}
		return nil, nil
	})
	if errors.Is(err, apperr.ErrNotFound) {
		err = apperr.ErrEnded
	}
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	m.unlockAndNotify(changes...)
	var once sync.Once
	return func() { once.Do(func() { m.unwatchOne(id, staffID, node) }) }, nil
}

func (m *Manager) unwatchOne(id string, staffID int64, node string) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	changes, _, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		w := r.Watching[staffID]
		if w == nil || w.Sockets[node] == 0 {
			return nil, errNoChange
		}
		if w.Sockets[node]--; w.Sockets[node] == 0 {
			delete(w.Sockets, node)
		}
		if w.total() > 0 {
			return nil, nil
		}
		delete(r.Watching, staffID)
		if r.State == Ended {
			return nil, nil
		}
		return []Change{{Session: r.session(), Prev: r.State}}, nil
	})
	m.warn("session: stop watching", id, err)
	m.unlockAndNotify(changes...)
}

// RequestHandover asks the customer to accept to as the staff member in
// charge (kind HandoverAgent or HandoverTakeover). Until the customer
// agrees nothing changes: to cannot see the screen as its agent nor point.
// to's own limit of open sessions applies.
func (m *Manager) RequestHandover(id string, by int64, to Member, kind string) (Session, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	atLimit := m.atStaffLimit(to.StaffID)
	changes, r, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		switch {
		case r.State == Ended:
			return nil, apperr.ErrEnded
		case !r.Active() || !r.CustomerSeen:
			return nil, ErrNotJoined
		case r.Handover != nil:
			return nil, ErrHandoverPending
		case r.StaffID == to.StaffID:
			return nil, ErrAlreadyInCharge
		case atLimit:
			return nil, ErrTooManyOpen
		}
		to := to
		to.Colour = -1 // given on acceptance
		r.Handover = &Handover{To: to, By: by, Kind: kind}
		r.HandoverUntil = m.cfg.Now().Add(m.cfg.ConfirmWithin)
		out := r.session()
		return []Change{{Session: out, Prev: out.State, Handover: out.Handover, HandoverEvent: HandoverRequested}}, nil
	})
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	out := r.session()
	m.unlockAndNotify(changes...)
	return out, nil
}

// AnswerHandover applies the customer's answer to the waiting hand-over.
func (m *Manager) AnswerHandover(id string, accept bool) (Session, error) {
	event := HandoverDeclined
	if accept {
		event = HandoverAccepted
	}
	return m.settleHandover(id, event, func(r *record) error {
		if !r.Active() {
			return apperr.ErrEnded
		}
		if r.Handover == nil {
			return ErrNoHandover
		}
		return nil
	})
}

// CancelHandover withdraws a waiting hand-over (the staff changed their
// mind, or asked the wrong colleague).
func (m *Manager) CancelHandover(id string) (Session, error) {
	return m.settleHandover(id, HandoverCancelled, func(r *record) error {
		if r.Handover == nil {
			return ErrNoHandover
		}
		return nil
	})
}

func (m *Manager) settleHandover(id, event string, check func(*record) error) (Session, error) {
	ctx, cancel := m.ctx()
	defer cancel()
	m.mu.Lock()
	changes, r, err := m.update(ctx, id, func(r *record) ([]Change, error) {
		if err := check(r); err != nil {
			return nil, err
		}
		return []Change{m.settleRecord(r, event)}, nil
	})
	if errors.Is(err, apperr.ErrNotFound) {
		err = ErrNoHandover
		if event == HandoverAccepted || event == HandoverDeclined {
			err = apperr.ErrEnded
		}
	}
	if err != nil {
		m.mu.Unlock()
		return Session{}, err
	}
	out := r.session()
	m.unlockAndNotify(changes...)
	return out, nil
}

// settleRecord ends the waiting hand-over with event; on acceptance the
// new staff member takes charge, with a colour of their own.
func (m *Manager) settleRecord(r *record, event string) Change {
	h := *r.Handover
	r.Handover = nil
	if event == HandoverAccepted {
		to, known := r.Member(h.To.StaffID)
		if !known {
			to = Member{StaffID: h.To.StaffID, Name: h.To.Name, Colour: r.NextColour}
			r.NextColour++
		}
		to.Name = h.To.Name
		rest := slices.DeleteFunc(slices.Clone(r.Presenters), func(p Member) bool {
			// A hand-over takes the session from whoever had it; a take-over
			// keeps them on beside the supervisor.
			return p.StaffID == to.StaffID || (h.Kind == HandoverAgent && p.StaffID == r.StaffID)
		})
		r.Presenters = append([]Member{to}, rest...)
		r.StaffID, r.StaffName = to.StaffID, to.Name
		r.StaffSeenAt = m.cfg.Now()
	}
	out := r.session()
	return Change{Session: out, Prev: out.State, Handover: &h, HandoverEvent: event}
}

// sweepHandovers lapses hand-overs the customer did not answer.
func (m *Manager) sweepHandovers(ctx context.Context, recs []*record, now time.Time) []Change {
	var changes []Change
	for _, seen := range recs {
		if seen.Handover == nil || !seen.Active() || now.Before(seen.HandoverUntil) {
			continue
		}
		c, _, err := m.update(ctx, seen.ID, func(r *record) ([]Change, error) {
			if r.Handover == nil || !r.Active() || now.Before(r.HandoverUntil) {
				return nil, errNoChange
			}
			return []Change{m.settleRecord(r, HandoverLapsed)}, nil
		})
		m.warn("session: lapse a hand-over", seen.ID, err)
		changes = append(changes, c...)
	}
	return changes
}

// ListAll returns every session, newest first: what supervisors see.
func (m *Manager) ListAll() []Session {
	m.catchUp()
	recs := m.records()
	out := make([]Session, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.session())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}
