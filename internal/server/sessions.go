package server

import (
	"net/http"
	"slices"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/relay"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

type sessionView struct {
	session.Session
	ExpiresInMS int64 `json:"expires_in_ms,omitempty"` // relative, so a skewed staff clock still counts down right
	DurationMS  int64 `json:"duration_ms,omitempty"`
	// Access is what the asking staff member is on this session: in_charge,
	// presenting (stayed on after a supervisor took over), incoming (asked
	// to take it over, waiting for the customer) or supervising (may watch
	// read-only and take over).
	Access string `json:"access"`
}

// Access levels of a staff member on a session.
const (
	accessInCharge    = "in_charge"
	accessPresenting  = "presenting"
	accessIncoming    = "incoming"
	accessSupervising = "supervising"
)

// accessOf says what st is on ss, or "" when ss is none of theirs.
func accessOf(ss session.Session, st store.Staff) string {
	switch {
	case ss.StaffID == st.ID:
		return accessInCharge
	case ss.Presents(st.ID):
		return accessPresenting
	case st.Role.Supervises():
		return accessSupervising
	case ss.Handover != nil && ss.Handover.To.StaffID == st.ID:
		return accessIncoming
	}
	return ""
}

func (s *Server) view(ss session.Session, st store.Staff) sessionView {
	v := sessionView{Session: ss, Access: accessOf(ss, st)}
	if ss.State == session.Waiting {
		v.ExpiresInMS = max(0, ss.ExpiresAt.Sub(s.now()).Milliseconds())
	}
	if !ss.JoinedAt.IsZero() {
		end := ss.EndedAt
		if end.IsZero() {
			end = s.now()
		}
		v.DurationMS = end.Sub(ss.JoinedAt).Milliseconds()
	}
	return v
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) {
	sc := staffFrom(r.Context())
	var list []session.Session
	if sc.Staff.Role.Supervises() {
		list = s.opt.Sessions.ListAll()
	} else {
		list = s.opt.Sessions.List(sc.Staff.ID)
	}
	out := make([]sessionView, 0, len(list))
	for _, ss := range list {
		out = append(out, s.view(ss, sc.Staff))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	sc := staffFrom(r.Context())
	ss, err := s.opt.Sessions.Create(sc.Staff.ID, sc.Staff.DisplayName)
	if err != nil {
		if isBusy(err) {
			s.metrics.refused.WithLabelValues("create").Inc()
			s.opt.Audit.Write(r.Context(), store.AuditEntry{Kind: store.AuditCreateRefused, StaffID: sc.Staff.ID, Reason: apperr.As(err).Message})
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.view(ss, sc.Staff))
}

// sessionFor finds the session of the request for the logged-in staff
// member, if their access to it is one of allowed. A session that is not
// theirs answers not-found, so ids cannot be probed; one they may see but
// not act on this way answers forbidden.
func (s *Server) sessionFor(r *http.Request, allowed ...string) (session.Session, error) {
	sc := staffFrom(r.Context())
	ss, err := s.opt.Sessions.Get(r.PathValue("id"))
	acc := accessOf(ss, sc.Staff)
	if err != nil || acc == "" {
		s.metrics.denied.WithLabelValues("not_own_session").Inc()
		s.log.Warn("staff asked for a session that is not theirs", "staff", sc.Staff.ID, "method", r.Method)
		return session.Session{}, apperr.ErrNotFound
	}
	if !slices.Contains(allowed, acc) {
		s.metrics.denied.WithLabelValues("role").Inc()
		return session.Session{}, apperr.New(http.StatusForbidden, "forbidden", "your role on this session does not allow this")
	}
	return ss, nil
}

// Who may end a session: its staff and any supervisor.
var mayEnd = []string{accessInCharge, accessPresenting, accessSupervising}

func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, mayEnd...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	reason := session.ReasonStaff
	if req.Reason == session.ReasonStaffCut {
		reason = session.ReasonStaffCut
	} else if req.Reason != "" && req.Reason != session.ReasonStaff {
		s.writeError(w, r, apperr.ErrBadRequest)
		return
	}
	ended, err := s.opt.Sessions.End(ss.ID, reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(ended, staffFrom(r.Context()).Staff))
}

// handleAdmit lets the customer of one join request in: the staff heard its
// check number on the phone. Every other request on the code is turned away.
func (s *Server) handleAdmit(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, accessInCharge)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	admitted, err := s.opt.Sessions.Admit(ss.ID, r.PathValue("rid"))
	if err != nil {
		if isBusy(err) {
			s.metrics.refused.WithLabelValues("join").Inc()
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(admitted, staffFrom(r.Context()).Staff))
}

// handleDecline turns one join request away (audited).
func (s *Server) handleDecline(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, accessInCharge)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.opt.Sessions.Decline(ss.ID, r.PathValue("rid")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleStaffSocket opens a console on a session: a full one for its
// staff, a read-only one for a supervisor who is not one of them.
func (s *Server) handleStaffSocket(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, accessInCharge, accessPresenting, accessSupervising)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.paceSocket(w, r) {
		return
	}
	sc := staffFrom(r.Context())
	s.opt.Relay.ServeStaff(w, r, ss, relay.Viewer{
		Login: sc.Login.TokenHash, StaffID: sc.Staff.ID, Name: sc.Staff.DisplayName, Supervises: sc.Staff.Role.Supervises(),
	})
}

// handleHandover asks the customer to accept another staff member in
// charge: the staff member in charge passes the session on, or a
// supervisor moves it. The customer's page shows the new name and asks.
func (s *Server) handleHandover(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, accessInCharge, accessSupervising)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		To int64 `json:"to"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	to, err := s.opt.Store.StaffByID(r.Context(), req.To)
	if err != nil || to.Disabled {
		s.writeError(w, r, apperr.New(http.StatusNotFound, "no_colleague", "no such staff member can take the session"))
		return
	}
	s.requestHandover(w, r, ss, to, session.HandoverAgent)
}

// handleTakeover lets a supervisor take the lead of a session; the staff
// member who had it stays on. The customer confirms the supervisor's name.
func (s *Server) handleTakeover(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, accessPresenting, accessSupervising)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !staffFrom(r.Context()).Staff.Role.Supervises() {
		s.writeError(w, r, apperr.New(http.StatusForbidden, "forbidden", "only supervisors may take a session over"))
		return
	}
	s.requestHandover(w, r, ss, staffFrom(r.Context()).Staff, session.HandoverTakeover)
}

func (s *Server) requestHandover(w http.ResponseWriter, r *http.Request, ss session.Session, to store.Staff, kind string) {
	sc := staffFrom(r.Context())
	got, err := s.opt.Sessions.RequestHandover(ss.ID, sc.Staff.ID, session.Member{StaffID: to.ID, Name: to.DisplayName}, kind)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, s.view(got, sc.Staff))
}

// handleCancelHandover withdraws a hand-over the customer has not answered.
func (s *Server) handleCancelHandover(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, accessInCharge, accessPresenting, accessSupervising)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	got, err := s.opt.Sessions.CancelHandover(ss.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(got, staffFrom(r.Context()).Staff))
}

// colleague is another staff member, as a console offers them for a
// hand-over: no username, no account details.
type colleague struct {
	ID          int64      `json:"id"`
	DisplayName string     `json:"display_name"`
	Role        store.Role `json:"role"`
}

// handleColleagues lists the enabled staff a session can be handed to.
func (s *Server) handleColleagues(w http.ResponseWriter, r *http.Request) {
	me := staffFrom(r.Context()).Staff
	list, err := s.opt.Store.ListStaff(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []colleague{}
	for _, st := range list {
		if st.ID != me.ID && !st.Disabled {
			out = append(out, colleague{st.ID, st.DisplayName, st.Role})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func isBusy(err error) bool {
	e := apperr.As(err)
	return e != nil && e.Code == apperr.ErrBusy.Code
}
