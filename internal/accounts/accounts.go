// Package accounts manages staff accounts: create, list, rename, disable
// and enable, and set passwords. It keeps the rules every caller (the
// command line, the administrators' console) must share: names a customer
// can read, passwords long enough, at least one administrator who can log
// in, and every login of an account revoked when it is disabled or its
// password changes.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// MinPassword is the shortest password a person may choose; generated
// passwords are longer (auth.NewPassword).
const MinPassword = 10

// Errors callers show as they are.
var (
	ErrUsername    = apperr.New(http.StatusBadRequest, "bad_username", "a username is 1 to 64 letters, digits, dots, hyphens or underscores")
	ErrDisplayName = apperr.New(http.StatusBadRequest, "bad_display_name", "a display name is 1 to 64 characters without control characters")
	ErrPassword    = apperr.New(http.StatusBadRequest, "bad_password", fmt.Sprintf("a password must be at least %d characters", MinPassword))
	ErrTaken       = apperr.New(http.StatusConflict, "username_taken", "that username is already in use")
	ErrRole        = apperr.New(http.StatusBadRequest, "bad_role", "the role must be agent, supervisor or admin")
	ErrLastAdmin   = apperr.New(http.StatusConflict, "last_admin", "this is the last administrator who can log in; enable or create another first")
)

// Service changes accounts in a store. Its changes read an account and
// write it back whole, so one Service serialises them: a rename racing a
// disable must not undo it. Share one Service per process.
type Service struct {
	Store store.Store
	Hash  auth.Params

	mu sync.Mutex
}

// List returns every account, by username.
func (s *Service) List(ctx context.Context) ([]store.Staff, error) {
	return s.Store.ListStaff(ctx)
}

// Get finds an account by username.
func (s *Service) Get(ctx context.Context, username string) (store.Staff, error) {
	st, err := s.Store.StaffByUsername(ctx, username)
	if errors.Is(err, apperr.ErrNotFound) {
		return st, apperr.New(http.StatusNotFound, "not_found", fmt.Sprintf("no account %q", username))
	}
	return st, err
}

// Add creates an account. An empty password is generated and returned.
func (s *Service) Add(ctx context.Context, username, displayName, password string, role store.Role) (store.Staff, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := store.ParseRole(string(role)); !ok {
		return store.Staff{}, "", ErrRole
	}
	if displayName == "" {
		displayName = username
	}
	if err := errors.Join(checkUsername(username), checkDisplayName(displayName)); err != nil {
		return store.Staff{}, "", err
	}
	generated := ""
	if password == "" {
		pw, err := auth.NewPassword()
		if err != nil {
			return store.Staff{}, "", err
		}
		password, generated = pw, pw
	}
	h, err := s.hash(password)
	if err != nil {
		return store.Staff{}, "", err
	}
	st, err := s.Store.CreateStaff(ctx, store.Staff{Username: username, DisplayName: displayName, PasswordHash: h, Role: role})
	if errors.Is(err, apperr.ErrConflict) {
		return st, "", ErrTaken
	}
	return st, generated, err
}

// Rename changes an account's username and the name customers confirm;
// an empty value keeps the current one.
func (s *Service) Rename(ctx context.Context, id int64, username, displayName string) (store.Staff, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Store.StaffByID(ctx, id)
	if err != nil {
		return st, err
	}
	if username != "" {
		if err := checkUsername(username); err != nil {
			return st, err
		}
		st.Username = username
	}
	if displayName != "" {
		if err := checkDisplayName(displayName); err != nil {
			return st, err
		}
		st.DisplayName = displayName
	}
	if err := s.Store.UpdateStaff(ctx, st); errors.Is(err, apperr.ErrConflict) {
		return st, ErrTaken
	} else if err != nil {
		return st, err
	}
	return st, nil
}

// SetDisabled disables or enables an account. Disabling revokes every
// login of the account; it returns their token hashes so the caller can
// close their sockets. The last administrator who can log in cannot be
// disabled.
func (s *Service) SetDisabled(ctx context.Context, id int64, disabled bool) (store.Staff, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Store.StaffByID(ctx, id)
	if err != nil {
		return st, nil, err
	}
	if disabled && st.Role.Administers() && !st.Disabled {
		if err := s.keepAnAdmin(ctx, id); err != nil {
			return st, nil, err
		}
	}
	st.Disabled = disabled
	if err := s.Store.UpdateStaff(ctx, st); err != nil {
		return st, nil, err
	}
	if !disabled {
		return st, nil, nil
	}
	revoked, err := s.Store.DeleteLoginsOf(ctx, id, "")
	return st, revoked, err
}

// SetRole changes what an account may do. The last administrator who can
// log in keeps the role. Sessions already open keep running; the new role
// applies to the account's next request and socket.
func (s *Service) SetRole(ctx context.Context, id int64, role store.Role) (store.Staff, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := store.ParseRole(string(role)); !ok {
		return store.Staff{}, ErrRole
	}
	st, err := s.Store.StaffByID(ctx, id)
	if err != nil {
		return st, err
	}
	if st.Role == role {
		return st, nil
	}
	if st.Role.Administers() && !st.Disabled {
		if err := s.keepAnAdmin(ctx, id); err != nil {
			return st, err
		}
	}
	st.Role = role
	return st, s.Store.UpdateStaff(ctx, st)
}

// SetPassword sets an account's password (generated and returned when
// empty) and revokes its logins except keep (the caller's own, when staff
// change their own password); it returns the revoked token hashes.
func (s *Service) SetPassword(ctx context.Context, id int64, password, keep string) (string, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Store.StaffByID(ctx, id)
	if err != nil {
		return "", nil, err
	}
	generated := ""
	if password == "" {
		pw, err := auth.NewPassword()
		if err != nil {
			return "", nil, err
		}
		password, generated = pw, pw
	}
	h, err := s.hash(password)
	if err != nil {
		return "", nil, err
	}
	st.PasswordHash = h
	if err := s.Store.UpdateStaff(ctx, st); err != nil {
		return "", nil, err
	}
	revoked, err := s.Store.DeleteLoginsOf(ctx, id, keep)
	return generated, revoked, err
}

func (s *Service) hash(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPassword || len(password) > 256 {
		return "", ErrPassword
	}
	return auth.HashPassword(password, s.Hash)
}

// keepAnAdmin refuses when no enabled administrator other than id exists.
func (s *Service) keepAnAdmin(ctx context.Context, id int64) error {
	list, err := s.Store.ListStaff(ctx)
	if err != nil {
		return err
	}
	for _, o := range list {
		if o.ID != id && o.Role.Administers() && !o.Disabled {
			return nil
		}
	}
	return ErrLastAdmin
}

func checkUsername(u string) error {
	if u == "" || len(u) > 64 {
		return ErrUsername
	}
	for _, r := range u {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r))) {
			return ErrUsername
		}
	}
	return nil
}

func checkDisplayName(d string) error {
	if strings.TrimSpace(d) == "" || utf8.RuneCountInString(d) > 64 || !utf8.ValidString(d) {
		return ErrDisplayName
	}
	for _, r := range d {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return ErrDisplayName
		}
	}
	return nil
}
