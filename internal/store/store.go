// Package store defines what Tomoni keeps on disk: staff accounts, staff
// login sessions and the audit trail. Audit rows carry metadata only — never
// page content, typed text or pointer data (DESIGN invariant 2).
package store

import (
	"context"
	"time"
)

// Staff is a staff account.
type Staff struct {
	ID           int64
	Username     string
	DisplayName  string
	PasswordHash string // argon2id, PHC string format
	Role         Role
	Disabled     bool // may not log in
	CreatedAt    time.Time
}

// Role is what a staff account may do; each role may do all that the
// ones before it may.
type Role string

const (
	RoleAgent      Role = "agent"      // runs own sessions and hands them over to colleagues
	RoleSupervisor Role = "supervisor" // also sees every session, watches any read-only and takes one over
	RoleAdmin      Role = "admin"      // also reads the audit and manages accounts
)

// Roles lists the roles, least to most.
var Roles = []Role{RoleAgent, RoleSupervisor, RoleAdmin}

// ParseRole accepts a role's name.
func ParseRole(s string) (Role, bool) {
	for _, r := range Roles {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

// Supervises reports whether the role sees and may watch every session.
func (r Role) Supervises() bool { return r == RoleSupervisor || r == RoleAdmin }

// Administers reports whether the role reads the audit and manages accounts.
func (r Role) Administers() bool { return r == RoleAdmin }

// Login is a staff login session, keyed by the SHA-256 of its cookie token.
type Login struct {
	TokenHash string
	StaffID   int64
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Audit kinds.
const (
	AuditLogin          = "login"
	AuditLoginFailed    = "login_failed"
	AuditSessionCreated = "session_created"
	AuditSessionJoined  = "session_joined"
	AuditSessionEnded   = "session_ended"
	AuditJoinFailed     = "join_failed"
	AuditJoinRefused    = "join_refused"    // capacity
	AuditAccountChanged = "account_changed" // created, renamed, disabled, enabled, password; Username is who did it
	AuditJoinDeclined   = "join_declined"   // a join request staff turned away, or one turned away by another's admission
	AuditCreateRefused  = "create_refused"
	AuditSessionPaused  = "session_paused"
	AuditSessionResumed = "session_resumed"
	AuditWatchStarted   = "watch_started" // a supervisor opened a session read-only; StaffID is the supervisor
	AuditHandover       = "handover"      // a hand-over or take-over; Reason says how it went, StaffID is the new staff member
)

// AuditEntry is one audit row: who, when, what, how long, why.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Kind       string
	StaffID    int64  // 0 when not known
	Username   string // for logins; never a password
	SessionID  string
	Reason     string
	Device     string
	DurationMS int64
	ClientHash string // salted hash of the client's network, never the address
	// Count is how many times this happened: refusals are recorded one row
	// per burst (same kind, reason, network and username), not one each.
	Count int64
}

// AuditQuery selects audit rows, newest first. Zero fields do not filter.
type AuditQuery struct {
	BeforeID int64 // rows older than this one (paging)
	Limit    int
	StaffID  int64
	Kind     string
	Reason   string
	From, To time.Time // At in [From, To)
}

// Store is implemented by each database dialect. Methods return
// apperr.ErrNotFound for missing rows and apperr.ErrConflict for duplicates.
// All methods are safe for concurrent use.
type Store interface {
	CreateStaff(ctx context.Context, s Staff) (Staff, error)
	StaffByUsername(ctx context.Context, username string) (Staff, error)
	StaffByID(ctx context.Context, id int64) (Staff, error)
	CountStaff(ctx context.Context) (int, error)
	ListStaff(ctx context.Context) ([]Staff, error)
	// UpdateStaff writes every field of the account with s.ID; a taken
	// username gives apperr.ErrConflict, a missing account apperr.ErrNotFound.
	UpdateStaff(ctx context.Context, s Staff) error

	CreateLogin(ctx context.Context, l Login) error
	LoginByTokenHash(ctx context.Context, hash string) (Login, error)
	DeleteLogin(ctx context.Context, hash string) error
	DeleteExpiredLogins(ctx context.Context, now time.Time) (int64, error)
	// DeleteLoginsOf removes every login of a staff member, except keep
	// (a token hash; "" keeps none), and returns the removed token hashes.
	DeleteLoginsOf(ctx context.Context, staffID int64, keep string) ([]string, error)

	// AppendAudit writes a row (Count 0 means 1) and returns its id.
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// SetAuditCount updates the count of a burst's row.
	SetAuditCount(ctx context.Context, id, count int64) error
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// DeleteAuditBefore enforces the retention: rows older than t go.
	DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error)

	Close() error
}
