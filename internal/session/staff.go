package session

import (
	"net/http"
	"slices"
	"sort"
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

// watchers lists who watches read-only: supervisors with a console open
// on the session who do not present.
func (s *Session) watchers() []Member {
	var out []Member
	for id, w := range s.watching {
		if w.sockets > 0 && !s.Presents(id) {
			out = append(out, w.Member)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StaffID < out[j].StaffID })
	return out
}

type watch struct {
	Member
	sockets int
}

// Watch records a read-only console of a supervisor on the session; the
// customer is told who watches. The returned release must be called when
// that console goes. A supervisor with several consoles is listed once.
func (m *Manager) Watch(id string, staffID int64, name string) (release func(), err error) {
	m.mu.Lock()
	s, ok := m.byID[id]
	if !ok || s.State == Ended {
		m.mu.Unlock()
		return nil, apperr.ErrEnded
	}
	if s.watching == nil {
		s.watching = make(map[int64]*watch)
	}
	w := s.watching[staffID]
	if w == nil {
		w = &watch{Member: Member{StaffID: staffID, Name: name, Colour: -1}}
		s.watching[staffID] = w
	}
	w.sockets++
	var changes []Change
	if w.sockets == 1 {
		changes = append(changes, Change{Session: s.snapshot(), Prev: s.State, Watching: &w.Member})
	}
	m.unlockAndNotify(changes...)
	return func() {
		m.mu.Lock()
		w.sockets--
		var changes []Change
		if w.sockets == 0 {
			delete(s.watching, staffID)
			if s.State != Ended {
				changes = append(changes, Change{Session: s.snapshot(), Prev: s.State})
			}
		}
		m.unlockAndNotify(changes...)
	}, nil
}

// RequestHandover asks the customer to accept to as the staff member in
// charge (kind HandoverAgent or HandoverTakeover). Until the customer
// agrees nothing changes: to cannot see the screen as its agent nor point.
// to's own limit of open sessions applies.
func (m *Manager) RequestHandover(id string, by int64, to Member, kind string) (Session, error) {
	m.mu.Lock()
	s, ok := m.byID[id]
	switch {
	case !ok:
		m.mu.Unlock()
		return Session{}, apperr.ErrNotFound
	case s.State == Ended:
		m.mu.Unlock()
		return Session{}, apperr.ErrEnded
	case !s.Active() || !s.CustomerSeen:
		m.mu.Unlock()
		return Session{}, ErrNotJoined
	case s.Handover != nil:
		m.mu.Unlock()
		return Session{}, ErrHandoverPending
	case s.StaffID == to.StaffID:
		m.mu.Unlock()
		return Session{}, ErrAlreadyInCharge
	}
	if m.atStaffLimitLocked(to.StaffID) {
		m.mu.Unlock()
		return Session{}, ErrTooManyOpen
	}
	to.Colour = -1 // given on acceptance
	s.Handover = &Handover{To: to, By: by, Kind: kind}
	s.handoverUntil = m.cfg.Now().Add(m.cfg.ConfirmWithin)
	out := s.snapshot()
	m.unlockAndNotify(Change{Session: out, Prev: out.State, Handover: out.Handover, HandoverEvent: HandoverRequested})
	return out, nil
}

// AnswerHandover applies the customer's answer to the waiting hand-over.
func (m *Manager) AnswerHandover(id string, accept bool) (Session, error) {
	m.mu.Lock()
	s, ok := m.byID[id]
	if !ok || !s.Active() {
		m.mu.Unlock()
		return Session{}, apperr.ErrEnded
	}
	if s.Handover == nil {
		m.mu.Unlock()
		return Session{}, ErrNoHandover
	}
	event := HandoverDeclined
	if accept {
		event = HandoverAccepted
	}
	c := m.settleHandoverLocked(s, event)
	m.unlockAndNotify(c)
	return c.Session, nil
}

// CancelHandover withdraws a waiting hand-over (the staff changed their
// mind, or asked the wrong colleague).
func (m *Manager) CancelHandover(id string) (Session, error) {
	m.mu.Lock()
	s, ok := m.byID[id]
	if !ok || s.Handover == nil {
		m.mu.Unlock()
		return Session{}, ErrNoHandover
	}
	c := m.settleHandoverLocked(s, HandoverCancelled)
	m.unlockAndNotify(c)
	return c.Session, nil
}

// settleHandoverLocked ends the waiting hand-over with event; on
// acceptance the new staff member takes charge, with a colour of their own.
func (m *Manager) settleHandoverLocked(s *Session, event string) Change {
	h := *s.Handover
	s.Handover = nil
	if event == HandoverAccepted {
		to, known := s.Member(h.To.StaffID)
		if !known {
			to = Member{StaffID: h.To.StaffID, Name: h.To.Name, Colour: s.nextColour}
			s.nextColour++
		}
		to.Name = h.To.Name
		rest := slices.DeleteFunc(slices.Clone(s.Presenters), func(p Member) bool {
			// A hand-over takes the session from whoever had it; a take-over
			// keeps them on beside the supervisor.
			return p.StaffID == to.StaffID || (h.Kind == HandoverAgent && p.StaffID == s.StaffID)
		})
		s.Presenters = append([]Member{to}, rest...)
		s.StaffID, s.StaffName = to.StaffID, to.Name
		s.LastStaffSeen = m.cfg.Now()
	}
	out := s.snapshot()
	return Change{Session: out, Prev: out.State, Handover: &h, HandoverEvent: event}
}

// sweepHandoversLocked lapses hand-overs the customer did not answer.
func (m *Manager) sweepHandoversLocked(now time.Time) []Change {
	var changes []Change
	for _, s := range m.byID {
		if s.Handover != nil && s.Active() && !now.Before(s.handoverUntil) {
			changes = append(changes, m.settleHandoverLocked(s, HandoverLapsed))
		}
	}
	return changes
}

// ListAll returns every session, newest first: what supervisors see.
func (m *Manager) ListAll() []Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Session, 0, len(m.byID))
	for _, s := range m.byID {
		out = append(out, s.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}
