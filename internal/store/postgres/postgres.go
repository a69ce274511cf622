// Package postgres implements store.Store on PostgreSQL (pgx), for
// deployments of several nodes that share their accounts and audit.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key nodes take while migrating, so
// that several nodes starting at once apply each migration exactly once.
const migrationLock = 0x746f6d6f6e69 // "tomoni"

// DB is a PostgreSQL-backed store.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (postgres://…) and applies
// migrations. Connection settings (pool size, search_path, TLS) come from
// the URL as pgx reads them.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a parsed configuration (tests set search_path).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*DB, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	d := &DB{pool: pool}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) applyMigration(ctx context.Context, name string) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migration %s: lock: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM migrations WHERE name = $1`, name).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO migrations (name, applied_at) VALUES ($1, $2)`, name, time.Now()); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	return nil
}

// Close closes the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// CreateStaff inserts an account; a taken username gives apperr.ErrConflict.
func (d *DB) CreateStaff(ctx context.Context, s store.Staff) (store.Staff, error) {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	if s.Role == "" {
		s.Role = store.RoleAgent
	}
	err := d.pool.QueryRow(ctx,
		`INSERT INTO staff (username, display_name, password_hash, role, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		s.Username, s.DisplayName, s.PasswordHash, string(s.Role), s.Disabled, s.CreatedAt).Scan(&s.ID)
	if err != nil {
		if isUnique(err) {
			return store.Staff{}, apperr.ErrConflict
		}
		return store.Staff{}, fmt.Errorf("create staff %q: %w", s.Username, err)
	}
	return s, nil
}

const staffCols = `id, username, display_name, password_hash, role, disabled, created_at`

func scanStaff(row pgx.Row) (store.Staff, error) {
	var s store.Staff
	var role string
	if err := row.Scan(&s.ID, &s.Username, &s.DisplayName, &s.PasswordHash, &role, &s.Disabled, &s.CreatedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Staff{}, apperr.ErrNotFound
		}
		return store.Staff{}, err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	if s.Role, _ = store.ParseRole(role); s.Role == "" {
		s.Role = store.RoleAgent // a role this version does not know grants nothing more
	}
	return s, nil
}

// StaffByUsername finds an account by username.
func (d *DB) StaffByUsername(ctx context.Context, username string) (store.Staff, error) {
	s, err := scanStaff(d.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE username = $1`, username))
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return s, fmt.Errorf("staff by username: %w", err)
	}
	return s, err
}

// StaffByID finds an account by id.
func (d *DB) StaffByID(ctx context.Context, id int64) (store.Staff, error) {
	s, err := scanStaff(d.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE id = $1`, id))
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return s, fmt.Errorf("staff by id: %w", err)
	}
	return s, err
}

// CountStaff counts accounts.
func (d *DB) CountStaff(ctx context.Context) (int, error) {
	var n int
	if err := d.pool.QueryRow(ctx, `SELECT COUNT(*) FROM staff`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count staff: %w", err)
	}
	return n, nil
}

// ListStaff returns every account, by username.
func (d *DB) ListStaff(ctx context.Context) ([]store.Staff, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+staffCols+` FROM staff ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	defer rows.Close()
	var out []store.Staff
	for rows.Next() {
		s, err := scanStaff(rows)
		if err != nil {
			return nil, fmt.Errorf("list staff: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// UpdateStaff writes an account's fields.
func (d *DB) UpdateStaff(ctx context.Context, s store.Staff) error {
	tag, err := d.pool.Exec(ctx,
		`UPDATE staff SET username = $1, display_name = $2, password_hash = $3, role = $4, disabled = $5 WHERE id = $6`,
		s.Username, s.DisplayName, s.PasswordHash, string(s.Role), s.Disabled, s.ID)
	if err != nil {
		if isUnique(err) {
			return apperr.ErrConflict
		}
		return fmt.Errorf("update staff %d: %w", s.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.ErrNotFound
	}
	return nil
}

// DeleteLoginsOf removes a staff member's logins but keep.
func (d *DB) DeleteLoginsOf(ctx context.Context, staffID int64, keep string) ([]string, error) {
	rows, err := d.pool.Query(ctx, `DELETE FROM logins WHERE staff_id = $1 AND token_hash != $2 RETURNING token_hash`, staffID, keep)
	if err != nil {
		return nil, fmt.Errorf("delete logins of %d: %w", staffID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("delete logins of %d: %w", staffID, err)
	}
	return out, nil
}

// CreateLogin stores a login session.
func (d *DB) CreateLogin(ctx context.Context, l store.Login) error {
	_, err := d.pool.Exec(ctx,
		`INSERT INTO logins (token_hash, staff_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		l.TokenHash, l.StaffID, l.CSRF, l.CreatedAt, l.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create login: %w", err)
	}
	return nil
}

// LoginByTokenHash finds a login session.
func (d *DB) LoginByTokenHash(ctx context.Context, hash string) (store.Login, error) {
	var l store.Login
	err := d.pool.QueryRow(ctx,
		`SELECT token_hash, staff_id, csrf, created_at, expires_at FROM logins WHERE token_hash = $1`, hash).
		Scan(&l.TokenHash, &l.StaffID, &l.CSRF, &l.CreatedAt, &l.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Login{}, apperr.ErrNotFound
	}
	if err != nil {
		return store.Login{}, fmt.Errorf("login by token: %w", err)
	}
	l.CreatedAt, l.ExpiresAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	return l, nil
}

// DeleteLogin removes a login session.
func (d *DB) DeleteLogin(ctx context.Context, hash string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM logins WHERE token_hash = $1`, hash); err != nil {
		return fmt.Errorf("delete login: %w", err)
	}
	return nil
}

// DeleteExpiredLogins removes login sessions expired at now.
func (d *DB) DeleteExpiredLogins(ctx context.Context, now time.Time) (int64, error) {
	tag, err := d.pool.Exec(ctx, `DELETE FROM logins WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired logins: %w", err)
	}
	return tag.RowsAffected(), nil
}

// AppendAudit writes an audit row and returns its id.
func (d *DB) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Count <= 0 {
		e.Count = 1
	}
	var id int64
	err := d.pool.QueryRow(ctx,
		`INSERT INTO audit (at, kind, staff_id, username, session_id, reason, device, duration_ms, client_hash, count)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		e.At, e.Kind, e.StaffID, e.Username, e.SessionID, e.Reason, e.Device, e.DurationMS, e.ClientHash, e.Count).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("append audit %s: %w", e.Kind, err)
	}
	return id, nil
}

// SetAuditCount updates the count of a burst's row.
func (d *DB) SetAuditCount(ctx context.Context, id, count int64) error {
	if _, err := d.pool.Exec(ctx, `UPDATE audit SET count = $1 WHERE id = $2`, count, id); err != nil {
		return fmt.Errorf("audit count: %w", err)
	}
	return nil
}

// ListAudit returns the rows q selects, newest first.
func (d *DB) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if q.BeforeID > 0 {
		add("id <", q.BeforeID)
	}
	if q.StaffID > 0 {
		add("staff_id =", q.StaffID)
	}
	if q.Kind != "" {
		add("kind =", q.Kind)
	}
	if q.Reason != "" {
		add("reason =", q.Reason)
	}
	if !q.From.IsZero() {
		add("at >=", q.From)
	}
	if !q.To.IsZero() {
		add("at <", q.To)
	}
	query := `SELECT id, at, kind, staff_id, username, session_id, reason, device, duration_ms, client_hash, count FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := d.pool.Query(ctx, query+" ORDER BY id DESC LIMIT $"+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.Kind, &e.StaffID, &e.Username, &e.SessionID, &e.Reason, &e.Device, &e.DurationMS, &e.ClientHash, &e.Count); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteAuditBefore removes rows older than t.
func (d *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := d.pool.Exec(ctx, `DELETE FROM audit WHERE at < $1`, t)
	if err != nil {
		return 0, fmt.Errorf("audit retention: %w", err)
	}
	return tag.RowsAffected(), nil
}
