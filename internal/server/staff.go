package server

import (
	"context"
	"crypto/hmac"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

const (
	// CookieName is the staff login cookie (HttpOnly, SameSite=Strict);
	// under an https public URL it is SecureCookieName, whose __Host- prefix
	// makes browsers refuse it unless it is Secure, host-only and for "/",
	// so neither a sibling subdomain nor plain http can plant or shadow it.
	CookieName       = "tomoni_staff"
	SecureCookieName = "__Host-tomoni_staff"
	loginTTL         = 12 * time.Hour
	csrfHeader       = "X-CSRF-Token"
)

type staffKey struct{}

type staffCtx struct {
	Staff store.Staff
	Login store.Login
}

func staffFrom(ctx context.Context) staffCtx { v, _ := ctx.Value(staffKey{}).(staffCtx); return v }

// sameOrigin reports whether the request's Origin is this server's own
// (the console): scheme, host and port equal to the public URL's. The Host
// header plays no part, so a page on a rebound DNS name that reaches this
// server is still another origin. Browsers send Origin on every POST and
// WebSocket.
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	n, err := config.NormalizeOrigin(o)
	return err == nil && s.consoleOrigins[n]
}

// cookieName is the login cookie's name for this deployment.
func (s *Server) cookieName() string {
	if s.secure {
		return SecureCookieName
	}
	return CookieName
}

// staffOnly requires a valid login. Unsafe methods and WebSockets also need
// the console's own Origin, and unsafe methods need the CSRF token.
func (s *Server) staffOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.cookieName())
		if err != nil || c.Value == "" {
			s.writeError(w, r, apperr.ErrUnauthorized)
			return
		}
		login, err := s.opt.Store.LoginByTokenHash(r.Context(), auth.HashToken(c.Value))
		if errors.Is(err, apperr.ErrNotFound) || (err == nil && !s.now().Before(login.ExpiresAt)) {
			s.writeError(w, r, apperr.ErrUnauthorized)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead
		isWS := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		if (unsafe || isWS) && !s.sameOrigin(r) {
			s.writeError(w, r, apperr.ErrForbidden)
			return
		}
		if unsafe && !hmac.Equal([]byte(r.Header.Get(csrfHeader)), []byte(login.CSRF)) {
			s.writeError(w, r, apperr.New(http.StatusForbidden, "csrf", "missing or wrong CSRF token"))
			return
		}
		st, err := s.opt.Store.StaffByID(r.Context(), login.StaffID)
		if err != nil || st.Disabled {
			s.writeError(w, r, apperr.ErrUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), staffKey{}, staffCtx{Staff: st, Login: login})
		h(w, r.WithContext(ctx))
	})
}

type meResponse struct {
	ID          int64      `json:"id"`
	Username    string     `json:"username"`
	DisplayName string     `json:"display_name"`
	Role        store.Role `json:"role"`
	CSRF        string     `json:"csrf"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.writeError(w, r, apperr.ErrForbidden)
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := readJSON(w, r, &req); err != nil || req.Username == "" || len(req.Username) > 64 || len(req.Password) > 256 {
		s.writeError(w, r, apperr.ErrBadRequest)
		return
	}
	ip := clientKey(r, s.trusted)
	st, err := s.opt.Store.StaffByUsername(r.Context(), req.Username)
	known := err == nil
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		s.writeError(w, r, err)
		return
	}
	// The audit keeps a username only when it is an account's: whatever
	// else was typed there may be a password in the wrong field.
	audited := ""
	if known {
		audited = st.Username
	}
	fail := func(reason string, e error) {
		s.log.Info("login failed", "reason", reason, "username", audited)
		s.metrics.loginFailures.WithLabelValues(reason).Inc()
		if reason != "busy" {
			s.opt.Audit.Refused(r.Context(), store.AuditEntry{Kind: store.AuditLoginFailed, Username: audited, Reason: reason, ClientHash: s.opt.Audit.ClientHash(prefixKey(ip))})
		}
		s.writeError(w, r, e)
	}
	if !s.loginIP.Allow(ip) {
		fail("rate_limited", apperr.ErrRateLimited)
		return
	}
	// Per username *and* address prefix: guessing one account's password
	// from one network slows down, while the account's owner elsewhere is
	// not locked out by strangers. An attempt over the limit waits for its
	// turn (briefly) rather than being refused at once.
	if !s.loginUser.Wait(r.Context(), strings.ToLower(req.Username)+"|"+prefixKey(ip), s.opt.Config.Bounds.LoginUserWait) {
		fail("rate_limited", apperr.ErrRateLimited)
		return
	}
	hash := st.PasswordHash
	if !known {
		// Unknown usernames cost the same hash, so timing reveals nothing.
		hash = s.dummyHash
	}
	ok, verr := s.verifier.Verify(r.Context(), req.Password, hash)
	if errors.Is(verr, auth.ErrBusy) {
		// Too many logins at once: each hash takes 64 MiB, so they wait
		// their turn and are refused rather than taking the server down.
		fail("busy", apperr.New(http.StatusServiceUnavailable, "busy", "too many logins at the moment; please try again"))
		return
	}
	// A disabled account gets the same answer as a wrong password: the
	// answer must not tell a guesser which accounts exist.
	if !known || verr != nil || !ok || st.Disabled {
		fail("bad_credentials", apperr.New(http.StatusUnauthorized, "bad_credentials", "wrong username or password"))
		return
	}
	tok, err := auth.NewToken()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	csrf, err := auth.NewToken()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	login := store.Login{TokenHash: auth.HashToken(tok), StaffID: st.ID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(loginTTL)}
	if err := s.opt.Store.CreateLogin(r.Context(), login); err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.secure, Expires: login.ExpiresAt,
	})
	s.log.Info("login", "username", st.Username, "staff", st.ID)
	s.opt.Audit.Write(r.Context(), store.AuditEntry{Kind: store.AuditLogin, StaffID: st.ID, Username: st.Username, ClientHash: s.opt.Audit.ClientHash(ip)})
	writeJSON(w, http.StatusOK, meResponse{ID: st.ID, Username: st.Username, DisplayName: st.DisplayName, Role: st.Role, CSRF: csrf})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sc := staffFrom(r.Context())
	if err := s.opt.Store.DeleteLogin(r.Context(), sc.Login.TokenHash); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The consoles of this login stop receiving at once.
	s.opt.Relay.EndLogin(sc.Login.TokenHash)
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	sc := staffFrom(r.Context())
	writeJSON(w, http.StatusOK, meResponse{ID: sc.Staff.ID, Username: sc.Staff.Username, DisplayName: sc.Staff.DisplayName, Role: sc.Staff.Role, CSRF: sc.Login.CSRF})
}

// auditRow is one audit row as administrators read it.
type auditRow struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	StaffID    int64     `json:"staff_id,omitempty"`
	Staff      string    `json:"staff,omitempty"` // the account's username, for rows that name one
	Username   string    `json:"username,omitempty"`
	SessionID  string    `json:"session_id,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Device     string    `json:"device,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Count      int64     `json:"count"`
}

const (
	auditPage      = 100     // rows per page in the console
	auditMaxPage   = 1000    // rows per page an API client may ask for
	auditExportMax = 100_000 // rows in one CSV export
)

// auditQuery reads the filters of GET /api/audit: before (row id), limit,
// staff (account id), kind, reason, from and to (RFC 3339 instants, or
// YYYY-MM-DD dates in UTC; to is exclusive).
func auditQuery(r *http.Request) (store.AuditQuery, error) {
	v := r.URL.Query()
	q := store.AuditQuery{Limit: auditPage, Kind: v.Get("kind"), Reason: v.Get("reason")}
	num := func(name string, dst *int64) error {
		if s := v.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return apperr.New(http.StatusBadRequest, "bad_request", name+" must be a non-negative number")
			}
			*dst = n
		}
		return nil
	}
	var limit int64
	if err := errors.Join(num("before", &q.BeforeID), num("staff", &q.StaffID), num("limit", &limit)); err != nil {
		return q, apperr.As(err)
	}
	if limit > 0 {
		q.Limit = int(min(limit, auditMaxPage))
	}
	when := func(name string, dst *time.Time) error {
		s := v.Get(name)
		if s == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t, err = time.Parse(time.DateOnly, s)
		}
		if err != nil {
			return apperr.New(http.StatusBadRequest, "bad_request", name+" must be a date (YYYY-MM-DD) or an RFC 3339 time")
		}
		*dst = t
		return nil
	}
	if err := errors.Join(when("from", &q.From), when("to", &q.To)); err != nil {
		return q, apperr.As(err)
	}
	if len(q.Kind) > 64 || len(q.Reason) > 64 {
		return q, apperr.ErrBadRequest
	}
	return q, nil
}

// handleAudit gives administrators the audit (metadata only), newest
// first, a page at a time with filters, or all of it as CSV (format=csv).
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	if !staffFrom(r.Context()).Staff.Role.Administers() {
		s.metrics.denied.WithLabelValues("not_admin").Inc()
		s.writeError(w, r, apperr.New(http.StatusForbidden, "forbidden", "only administrators may read the audit"))
		return
	}
	q, err := auditQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	names := map[int64]string{}
	if list, err := s.opt.Store.ListStaff(r.Context()); err == nil {
		for _, st := range list {
			names[st.ID] = st.Username
		}
	}
	row := func(e store.AuditEntry) auditRow {
		return auditRow{e.ID, e.At, e.Kind, e.StaffID, names[e.StaffID], e.Username, e.SessionID, e.Reason, e.Device, e.DurationMS, max(e.Count, 1)}
	}
	if r.URL.Query().Get("format") == "csv" {
		s.auditCSV(w, r, q, row)
		return
	}
	rows, err := s.opt.Store.ListAudit(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Rows []auditRow `json:"rows"`
		// NextBefore pages on to older rows; 0 when there are none.
		NextBefore int64 `json:"next_before"`
	}{Rows: make([]auditRow, 0, len(rows))}
	for _, e := range rows {
		out.Rows = append(out.Rows, row(e))
	}
	if len(rows) == q.Limit {
		out.NextBefore = rows[len(rows)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// auditCSV streams the selected rows, newest first, as a CSV file.
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, q store.AuditQuery, row func(store.AuditEntry) auditRow) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="tomoni-audit-`+s.now().UTC().Format("20060102-150405")+`.csv"`)
	// A byte-order mark lets spreadsheet programs read the Japanese text as UTF-8.
	w.Write([]byte("\uFEFF"))
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "at", "kind", "staff_id", "staff", "username", "session_id", "reason", "device", "duration_ms", "count"})
	q.Limit = auditMaxPage
	for written := 0; written < auditExportMax; {
		rows, err := s.opt.Store.ListAudit(r.Context(), q)
		if err != nil {
			s.log.Error("audit export", "err", err)
			return // the file ends short; the status has gone already
		}
		for _, e := range rows {
			a := row(e)
			cw.Write([]string{
				strconv.FormatInt(a.ID, 10), a.At.Format(time.RFC3339), cell(a.Kind), strconv.FormatInt(a.StaffID, 10), cell(a.Staff), cell(a.Username),
				cell(a.SessionID), cell(a.Reason), cell(a.Device), strconv.FormatInt(a.DurationMS, 10), strconv.FormatInt(a.Count, 10),
			})
		}
		written += len(rows)
		if len(rows) < q.Limit {
			break
		}
		q.BeforeID = rows[len(rows)-1].ID
	}
	cw.Flush()
}

// cell keeps a text cell from being read as a formula by a spreadsheet.
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
