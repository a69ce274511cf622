package server

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// cors answers for the site origins that embed the SDK. Requests carry no
// credentials: the customer is identified by its join code, then its token.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || !s.siteOriginAllowed(o) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", o)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	return true
}

// fromSite admits requests from the site origins that embed the SDK, with
// the CORS headers their browsers need, and refuses every other origin.
func (s *Server) fromSite(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cors(w, r) {
			s.writeError(w, r, apperr.ErrOrigin)
			return
		}
		h(w, r)
	})
}

// handlePreflight answers CORS preflights for the customer POST routes
// (fromSite has checked the origin).
func (s *Server) handlePreflight(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

type joinResponse struct {
	Session   string `json:"session"`
	Token     string `json:"token"`
	StaffName string `json:"staff_name"`
}

// requestResponse answers a correct code: a join request, not a session.
// The customer's page shows Check and polls /api/join/wait with Token.
type requestResponse struct {
	Token string `json:"token"`
	Check string `json:"check"`
}

// handleJoin places a join request for a correct code. Only wrong codes
// cost the client's address a token of its limit; nothing here slows down
// anyone else, because a guessed code is worth nothing until the staff
// admits the request whose check number the real customer reads out.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	ip := clientKey(r, s.trusted)
	ok, refund := s.joinIP.Take(ip)
	if !ok {
		s.metrics.joinFailures.WithLabelValues("rate_limited").Inc()
		s.refusal(r, store.AuditJoinFailed, "rate_limited", ip)
		s.writeError(w, r, apperr.ErrRateLimited)
		return
	}
	var req struct {
		Code   string `json:"code"`
		Device string `json:"device"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tk, err := s.opt.Sessions.RequestJoin(strings.TrimSpace(req.Code), session.JoinInfo{
		Device: protocol.CleanDevice(req.Device), Browser: protocol.BrowserFromUA(r.UserAgent()), Client: ip,
	})
	switch {
	case errors.Is(err, apperr.ErrInvalidCode):
		s.log.Info("join refused: wrong, expired or used code")
		s.metrics.joinFailures.WithLabelValues("invalid_code").Inc()
		s.noteWrongCode()
		s.refusal(r, store.AuditJoinFailed, "invalid_code", ip)
		s.writeError(w, r, err)
		return
	case isBusy(err):
		refund()
		s.log.Info("join refused: the deployment is at its live-session limit", "max_live", s.opt.Config.MaxLive)
		s.metrics.refused.WithLabelValues("join").Inc()
		s.refusal(r, store.AuditJoinRefused, "busy", ip)
		s.writeError(w, r, err)
		return
	case err != nil:
		refund()
		s.writeError(w, r, err)
		return
	}
	refund()
	writeJSON(w, http.StatusAccepted, requestResponse{Token: tk.Token, Check: tk.Check})
}

// handleJoinWait answers a join request's poll: still pending (with the
// check number), admitted (with the session and the staff name, shown
// only now), declined, or gone. It holds the request open until something
// changes, at most JoinPollWait.
func (s *Server) handleJoinWait(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.opt.Sessions.WaitRequest(r.Context(), req.Token, s.opt.Config.Bounds.JoinPollWait)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]string{"status": st.Outcome}
	switch st.Outcome {
	case session.RequestPending:
		out["check"] = st.Check
	case session.RequestAdmitted:
		out["session"] = st.Session.ID
		out["staff_name"] = st.Session.StaffName
	}
	writeJSON(w, http.StatusOK, out)
}

// handleLeave ends a session from the customer's side without a socket:
// when the customer declines the staff member's name, or ends while offline.
func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token  string `json:"token"`
		Reason string `json:"reason"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ss, err := s.opt.Sessions.ByToken(req.Token)
	if err != nil {
		// A join request the customer cancels before staff decided.
		if s.opt.Sessions.Withdraw(req.Token) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		s.writeError(w, r, err)
		return
	}
	var reason string
	switch req.Reason {
	case "":
		reason = session.ReasonCustomer
	case "declined":
		reason = session.ReasonDeclined
	case "error":
		reason = session.ReasonCustomerError
	default:
		s.writeError(w, r, apperr.ErrBadRequest)
		return
	}
	if _, err := s.opt.Sessions.End(ss.ID, reason); err != nil && !errors.Is(err, apperr.ErrEnded) {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleHandoff issues a one-time token that carries the session to another
// of the site origins (the SDK appends it to the link's fragment, which
// browsers never send to servers).
func (s *Server) handleHandoff(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	h, err := s.opt.Sessions.Handoff(req.Token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"handoff": h})
}

// handleRedeem continues a session on the origin the customer moved to.
func (s *Server) handleRedeem(w http.ResponseWriter, r *http.Request) {
	ip := clientKey(r, s.trusted)
	if !s.joinIP.Allow(ip) {
		s.writeError(w, r, apperr.ErrRateLimited)
		return
	}
	var req struct {
		Handoff string `json:"handoff"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ss, tok, err := s.opt.Sessions.Redeem(req.Handoff)
	if err != nil {
		s.metrics.joinFailures.WithLabelValues("invalid_handoff").Inc()
		s.refusal(r, store.AuditJoinFailed, "invalid_handoff", ip)
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, joinResponse{Session: ss.ID, Token: tok, StaffName: ss.StaffName})
}

// noteWrongCode counts a wrong code against the deployment-wide alert
// threshold and, past it, logs an alert at most once a minute. It never
// refuses anyone.
func (s *Server) noteWrongCode() {
	if s.wrongCodes.Allow() {
		return
	}
	s.alertMu.Lock()
	defer s.alertMu.Unlock()
	if now := s.now(); now.Sub(s.lastAlert) >= time.Minute {
		s.lastAlert = now
		s.metrics.guessAlerts.Inc()
		s.log.Error("ALERT: many wrong join codes across the deployment; someone may be guessing codes (nobody is refused for it)",
			"threshold_per_minute", s.opt.Config.JoinAlertPerMinute)
	}
}

func (s *Server) handleCustomerSocket(w http.ResponseWriter, r *http.Request) {
	if !s.siteOriginAllowed(r.Header.Get("Origin")) {
		s.writeError(w, r, apperr.ErrOrigin)
		return
	}
	ss, err := s.opt.Sessions.ByToken(r.URL.Query().Get("token"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The relay reads the session again once the socket is open, so a
	// long wait here cannot leave it acting on an old state.
	if !s.paceSocket(w, r) {
		return
	}
	// An ended session still upgrades: the relay then says "ended" with its
	// reason and closes (4000), which a page coming back online needs to hear.
	s.opt.Relay.ServeCustomer(w, r, ss)
}

// policyView is the policy as the SDK reads it: the operator's policy, the
// origins a session may move between (all allowed site origins, which
// shadow the policy's own list), and whether the SDK masks at all.
type policyView struct {
	policy.Policy
	SiteOrigins []string `json:"site_origins"`
	// SDKMasking is false only in tests that show the server filter alone.
	SDKMasking bool `json:"sdk_masking"`
	// SnapshotEveryMS is how often the recorder takes a fresh full
	// snapshot, which bounds what the console's replay keeps.
	SnapshotEveryMS int64 `json:"snapshot_every_ms"`
	// MaxPageBytes is the largest page the server takes: the SDK does not
	// share a larger one, and says so, rather than be refused.
	MaxPageBytes int64 `json:"max_page_bytes"`
	// MaxMessageBytes is the largest message the server reads; the SDK
	// sends anything larger in parts.
	MaxMessageBytes int64 `json:"max_message_bytes"`
}

// handlePolicy serves the site policy to the SDK (site origins, CORS) and to
// the console (same origin).
func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && !s.sameOrigin(r) && !s.cors(w, r) {
		s.writeError(w, r, apperr.ErrOrigin)
		return
	}
	origins := s.siteOrigins()
	sort.Strings(origins)
	writeJSON(w, http.StatusOK, policyView{Policy: *s.opt.Policy, SiteOrigins: origins, SDKMasking: !s.opt.Config.TestDisableSDKMasking, SnapshotEveryMS: s.opt.Config.Bounds.SnapshotEvery.Milliseconds(), MaxPageBytes: s.opt.Config.MaxPageBytes, MaxMessageBytes: s.opt.Config.MaxCustomerMessage})
}
