package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/accounts"
	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// accountView is an account as administrators see it (never its hash).
type accountView struct {
	ID          int64      `json:"id"`
	Username    string     `json:"username"`
	DisplayName string     `json:"display_name"`
	Role        store.Role `json:"role"`
	Disabled    bool       `json:"disabled"`
	CreatedAt   time.Time  `json:"created_at"`
	// Password is set only in the answer that generated it, once.
	Password string `json:"password,omitempty"`
}

func viewOf(st store.Staff) accountView {
	return accountView{ID: st.ID, Username: st.Username, DisplayName: st.DisplayName, Role: st.Role, Disabled: st.Disabled, CreatedAt: st.CreatedAt}
}

func (s *Server) accounts() *accounts.Service { return s.accountSvc }

// adminOnly lets administrators through.
func (s *Server) adminOnly(h http.HandlerFunc) http.Handler {
	return s.staffOnly(func(w http.ResponseWriter, r *http.Request) {
		if !staffFrom(r.Context()).Staff.Role.Administers() {
			s.metrics.denied.WithLabelValues("not_admin").Inc()
			s.writeError(w, r, apperr.New(http.StatusForbidden, "forbidden", "only administrators may do this"))
			return
		}
		h(w, r)
	})
}

// revoke closes the sockets of logins that were just revoked.
func (s *Server) revoke(hashes []string) {
	for _, h := range hashes {
		s.opt.Relay.EndLogin(h)
	}
}

// CloseRevokedLogins closes the sockets of logins that no longer exist in
// the store: revoked by the command line or another node. Call it
// periodically.
func (s *Server) CloseRevokedLogins(ctx context.Context) {
	for _, h := range s.opt.Relay.Logins() {
		l, err := s.opt.Store.LoginByTokenHash(ctx, h)
		if err != nil && !isNotFound(err) {
			continue // the store is in trouble: look again next time
		}
		if err == nil {
			st, err := s.opt.Store.StaffByID(ctx, l.StaffID)
			if err != nil && !isNotFound(err) {
				continue
			}
			if err == nil && !st.Disabled && s.now().Before(l.ExpiresAt) {
				if !st.Role.Supervises() {
					// A supervisor made an agent stops watching others' sessions.
					s.opt.Relay.EndWatching(h)
				}
				continue
			}
		}
		s.opt.Relay.EndLogin(h)
	}
}

func isNotFound(err error) bool {
	e := apperr.As(err)
	return e != nil && e.Code == apperr.ErrNotFound.Code
}

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request) {
	list, err := s.accounts().List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]accountView, 0, len(list))
	for _, st := range list {
		out = append(out, viewOf(st))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username    string     `json:"username"`
		DisplayName string     `json:"display_name"`
		Password    string     `json:"password"`
		Role        store.Role `json:"role"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Role == "" {
		req.Role = store.RoleAgent
	}
	st, pw, err := s.accounts().Add(r.Context(), req.Username, req.DisplayName, req.Password, req.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.opt.Audit.Write(r.Context(), store.AuditEntry{Kind: store.AuditAccountChanged, StaffID: st.ID, Username: staffFrom(r.Context()).Staff.Username, Reason: "created"})
	v := viewOf(st)
	v.Password = pw
	writeJSON(w, http.StatusCreated, v)
}

// handleUpdateAccount renames an account, changes its role, disables or enables it. Disabling
// ends its logins and closes their consoles at once.
func (s *Server) handleUpdateAccount(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.writeError(w, r, apperr.ErrNotFound)
		return
	}
	var req struct {
		Username    string     `json:"username"`
		DisplayName string     `json:"display_name"`
		Disabled    *bool      `json:"disabled"`
		Role        store.Role `json:"role"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	svc := s.accounts()
	st, err := s.opt.Store.StaffByID(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	by := staffFrom(r.Context()).Staff.Username
	if req.Username != "" || req.DisplayName != "" {
		if st, err = svc.Rename(r.Context(), id, req.Username, req.DisplayName); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.opt.Audit.Write(r.Context(), store.AuditEntry{Kind: store.AuditAccountChanged, StaffID: id, Username: by, Reason: "renamed"})
	}
	if req.Role != "" && req.Role != st.Role {
		if st, err = svc.SetRole(r.Context(), id, req.Role); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.opt.Audit.Write(r.Context(), store.AuditEntry{Kind: store.AuditAccountChanged, StaffID: id, Username: by, Reason: "role_" + string(st.Role)})
	}
	if req.Disabled != nil && *req.Disabled != st.Disabled {
		var revoked []string
		if st, revoked, err = svc.SetDisabled(r.Context(), id, *req.Disabled); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.revoke(revoked)
		reason := "enabled"
		if st.Disabled {
			reason = "disabled"
		}
		s.opt.Audit.Write(r.Context(), store.AuditEntry{Kind: store.AuditAccountChanged, StaffID: id, Username: by, Reason: reason})
	}
	writeJSON(w, http.StatusOK, viewOf(st))
}

// handleSetPassword sets or generates an account's password and ends its
// other logins (an administrator changing their own keeps this one).
func (s *Server) handleSetPassword(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.writeError(w, r, apperr.ErrNotFound)
		return
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sc := staffFrom(r.Context())
	keep := ""
	if sc.Staff.ID == id {
		keep = sc.Login.TokenHash
	}
	pw, revoked, err := s.accounts().SetPassword(r.Context(), id, req.Password, keep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.revoke(revoked)
	s.opt.Audit.Write(r.Context(), store.AuditEntry{Kind: store.AuditAccountChanged, StaffID: id, Username: sc.Staff.Username, Reason: "password"})
	writeJSON(w, http.StatusOK, map[string]string{"password": pw})
}
