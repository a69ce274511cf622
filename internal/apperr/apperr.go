// Package apperr is Tomoni's one error type: a stable code a client can act
// on and a message that is safe to show. Anything that is not an *Error is
// "internal": logged with context, never echoed to clients.
package apperr

import (
	"errors"
	"net/http"
)

// Error is a domain error.
type Error struct {
	Code    string // stable, machine-readable: "invalid_code", "busy", ...
	Message string // safe to show to the user
	Status  int    // HTTP status the API answers with
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns a domain error.
func New(status int, code, message string) *Error {
	return &Error{Code: code, Message: message, Status: status}
}

// Codes shared across packages.
var (
	ErrInvalidCode  = New(http.StatusBadRequest, "invalid_code", "the code is not valid")
	ErrBusy         = New(http.StatusServiceUnavailable, "busy", "too many sessions at the moment; please try again later")
	ErrNotFound     = New(http.StatusNotFound, "not_found", "not found")
	ErrEnded        = New(http.StatusGone, "ended", "the session has ended")
	ErrUnauthorized = New(http.StatusUnauthorized, "unauthorized", "login required")
	ErrForbidden    = New(http.StatusForbidden, "forbidden", "not allowed")
	ErrRateLimited  = New(http.StatusTooManyRequests, "rate_limited", "too many attempts; please wait and try again")
	ErrBadRequest   = New(http.StatusBadRequest, "bad_request", "the request is not valid")
	ErrTooLarge     = New(http.StatusRequestEntityTooLarge, "too_large", "the request is too large")
	ErrConflict     = New(http.StatusConflict, "conflict", "already exists")
	ErrOrigin       = New(http.StatusForbidden, "origin", "this site may not use screen sharing")
	// ErrUnavailable: the deployment cannot answer now (its shared store is
	// unreachable); trying again shortly may work.
	ErrUnavailable = New(http.StatusServiceUnavailable, "unavailable", "the service cannot answer at the moment; please try again shortly")
)

// As returns the domain error inside err, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Is makes errors.Is match on Code, so a copy with a more specific message
// still matches its template (errors.Is(err, ErrBusy)).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
