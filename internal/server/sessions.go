package server

import (
	"net/http"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

type sessionView struct {
	session.Session
	ExpiresInMS int64 `json:"expires_in_ms,omitempty"` // relative, so a skewed staff clock still counts down right
	DurationMS  int64 `json:"duration_ms,omitempty"`
}

func (s *Server) view(ss session.Session) sessionView {
	v := sessionView{Session: ss}
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
	list := s.opt.Sessions.List(sc.Staff.ID)
	out := make([]sessionView, 0, len(list))
	for _, ss := range list {
		out = append(out, s.view(ss))
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
	writeJSON(w, http.StatusCreated, s.view(ss))
}

// ownSession finds a session of the logged-in staff member. Someone else's
// session answers not-found, so ids cannot be probed.
func (s *Server) ownSession(r *http.Request) (session.Session, error) {
	sc := staffFrom(r.Context())
	ss, err := s.opt.Sessions.Get(r.PathValue("id"))
	if err != nil || ss.StaffID != sc.Staff.ID {
		s.metrics.denied.WithLabelValues("not_own_session").Inc()
		s.log.Warn("staff asked for a session that is not theirs", "staff", sc.Staff.ID, "method", r.Method)
		return session.Session{}, apperr.ErrNotFound
	}
	return ss, nil
}

func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	ss, err := s.ownSession(r)
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
	writeJSON(w, http.StatusOK, s.view(ended))
}

// handleAdmit lets the customer of one join request in: the staff heard its
// check number on the phone. Every other request on the code is turned away.
func (s *Server) handleAdmit(w http.ResponseWriter, r *http.Request) {
	ss, err := s.ownSession(r)
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
	writeJSON(w, http.StatusOK, s.view(admitted))
}

// handleDecline turns one join request away (audited).
func (s *Server) handleDecline(w http.ResponseWriter, r *http.Request) {
	ss, err := s.ownSession(r)
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

func (s *Server) handleStaffSocket(w http.ResponseWriter, r *http.Request) {
	ss, err := s.ownSession(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.opt.Relay.ServeStaff(w, r, ss, staffFrom(r.Context()).Login.TokenHash)
}

func isBusy(err error) bool {
	e := apperr.As(err)
	return e != nil && e.Code == apperr.ErrBusy.Code
}
