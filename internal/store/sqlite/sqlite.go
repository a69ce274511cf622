// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite: pure Go, no cgo).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
	_ "modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a SQLite-backed store.
type DB struct {
	db *sql.DB
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and applies migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn, err := dataSourceName(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer at a time is what SQLite does anyway; a single connection
	// avoids SQLITE_BUSY between our own goroutines.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	d := &DB{db: db}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// pragmas are set on every connection. They are written out by hand because
// url.Values.Encode would escape the parentheses the driver reads back.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// dataSourceName builds a SQLite URI for path. The path is made absolute and
// percent-encoded: SQLite reads "file:" names as URIs, so a '#', '?' or '%'
// in a directory name would otherwise cut the path short and put the
// database somewhere else.
func dataSourceName(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	return u.String() + "?" + pragmas, nil
}

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
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
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, name, time.Now().Unix()); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	return nil
}

// Backup writes a consistent copy of the database at path to dest with
// VACUUM INTO: it reads one snapshot, so a server writing meanwhile is
// neither stopped nor copied half-way. dest must not exist yet.
func Backup(ctx context.Context, path, dest string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: no database at %s: %w", path, err)
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file", dest)
	}
	d, err := Open(ctx, path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer d.Close()
	abs, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	return nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// CreateStaff inserts an account; a taken username gives apperr.ErrConflict.
func (d *DB) CreateStaff(ctx context.Context, s store.Staff) (store.Staff, error) {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	if s.Role == "" {
		s.Role = store.RoleAgent
	}
	res, err := d.db.ExecContext(ctx,
		`INSERT INTO staff (username, display_name, password_hash, role, admin, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		s.Username, s.DisplayName, s.PasswordHash, string(s.Role), s.Role.Administers(), ms(s.CreatedAt))
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return store.Staff{}, apperr.ErrConflict
		}
		return store.Staff{}, fmt.Errorf("create staff %q: %w", s.Username, err)
	}
	s.ID, err = res.LastInsertId()
	if err != nil {
		return store.Staff{}, fmt.Errorf("create staff %q: %w", s.Username, err)
	}
	return s, nil
}

const staffCols = `id, username, display_name, password_hash, role, disabled, created_at`

func scanStaff(row interface{ Scan(...any) error }) (store.Staff, error) {
	var s store.Staff
	var created int64
	var role string
	if err := row.Scan(&s.ID, &s.Username, &s.DisplayName, &s.PasswordHash, &role, &s.Disabled, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.Staff{}, apperr.ErrNotFound
		}
		return store.Staff{}, err
	}
	s.CreatedAt = fromMS(created)
	if s.Role, _ = store.ParseRole(role); s.Role == "" {
		s.Role = store.RoleAgent // a role this version does not know grants nothing more
	}
	return s, nil
}

// StaffByUsername finds an account by username.
func (d *DB) StaffByUsername(ctx context.Context, username string) (store.Staff, error) {
	s, err := scanStaff(d.db.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE username = ?`, username))
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return s, fmt.Errorf("staff by username: %w", err)
	}
	return s, err
}

// StaffByID finds an account by id.
func (d *DB) StaffByID(ctx context.Context, id int64) (store.Staff, error) {
	s, err := scanStaff(d.db.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE id = ?`, id))
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return s, fmt.Errorf("staff by id: %w", err)
	}
	return s, err
}

// CountStaff counts accounts.
func (d *DB) CountStaff(ctx context.Context) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM staff`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count staff: %w", err)
	}
	return n, nil
}

// ListStaff returns every account, by username.
func (d *DB) ListStaff(ctx context.Context) ([]store.Staff, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+staffCols+` FROM staff ORDER BY username`)
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
	res, err := d.db.ExecContext(ctx,
		`UPDATE staff SET username = ?, display_name = ?, password_hash = ?, role = ?, admin = ?, disabled = ? WHERE id = ?`,
		s.Username, s.DisplayName, s.PasswordHash, string(s.Role), s.Role.Administers(), s.Disabled, s.ID)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return apperr.ErrConflict
		}
		return fmt.Errorf("update staff %d: %w", s.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return apperr.ErrNotFound
	}
	return nil
}

// DeleteLoginsOf removes a staff member's logins but keep.
func (d *DB) DeleteLoginsOf(ctx context.Context, staffID int64, keep string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `DELETE FROM logins WHERE staff_id = ? AND token_hash != ? RETURNING token_hash`, staffID, keep)
	if err != nil {
		return nil, fmt.Errorf("delete logins of %d: %w", staffID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("delete logins of %d: %w", staffID, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// CreateLogin stores a login session.
func (d *DB) CreateLogin(ctx context.Context, l store.Login) error {
	_, err := d.db.ExecContext(ctx,
		`INSERT INTO logins (token_hash, staff_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		l.TokenHash, l.StaffID, l.CSRF, ms(l.CreatedAt), ms(l.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create login: %w", err)
	}
	return nil
}

// LoginByTokenHash finds a login session.
func (d *DB) LoginByTokenHash(ctx context.Context, hash string) (store.Login, error) {
	var l store.Login
	var created, expires int64
	err := d.db.QueryRowContext(ctx,
		`SELECT token_hash, staff_id, csrf, created_at, expires_at FROM logins WHERE token_hash = ?`, hash).
		Scan(&l.TokenHash, &l.StaffID, &l.CSRF, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Login{}, apperr.ErrNotFound
	}
	if err != nil {
		return store.Login{}, fmt.Errorf("login by token: %w", err)
	}
	l.CreatedAt, l.ExpiresAt = fromMS(created), fromMS(expires)
	return l, nil
}

// DeleteLogin removes a login session.
func (d *DB) DeleteLogin(ctx context.Context, hash string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM logins WHERE token_hash = ?`, hash); err != nil {
		return fmt.Errorf("delete login: %w", err)
	}
	return nil
}

// DeleteExpiredLogins removes login sessions expired at now.
func (d *DB) DeleteExpiredLogins(ctx context.Context, now time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM logins WHERE expires_at <= ?`, ms(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired logins: %w", err)
	}
	return res.RowsAffected()
}

// AppendAudit writes an audit row and returns its id.
func (d *DB) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Count <= 0 {
		e.Count = 1
	}
	res, err := d.db.ExecContext(ctx,
		`INSERT INTO audit (at, kind, staff_id, username, session_id, reason, device, duration_ms, client_hash, count)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ms(e.At), e.Kind, e.StaffID, e.Username, e.SessionID, e.Reason, e.Device, e.DurationMS, e.ClientHash, e.Count)
	if err != nil {
		return 0, fmt.Errorf("append audit %s: %w", e.Kind, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("append audit %s: %w", e.Kind, err)
	}
	return id, nil
}

// SetAuditCount updates the count of a burst's row.
func (d *DB) SetAuditCount(ctx context.Context, id, count int64) error {
	if _, err := d.db.ExecContext(ctx, `UPDATE audit SET count = ? WHERE id = ?`, count, id); err != nil {
		return fmt.Errorf("audit count: %w", err)
	}
	return nil
}

// ListAudit returns the rows q selects, newest first.
func (d *DB) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.BeforeID > 0 {
		add("id < ?", q.BeforeID)
	}
	if q.StaffID > 0 {
		add("staff_id = ?", q.StaffID)
	}
	if q.Kind != "" {
		add("kind = ?", q.Kind)
	}
	if q.Reason != "" {
		add("reason = ?", q.Reason)
	}
	if !q.From.IsZero() {
		add("at >= ?", ms(q.From))
	}
	if !q.To.IsZero() {
		add("at < ?", ms(q.To))
	}
	query := `SELECT id, at, kind, staff_id, username, session_id, reason, device, duration_ms, client_hash, count FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.db.QueryContext(ctx, query+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.StaffID, &e.Username, &e.SessionID, &e.Reason, &e.Device, &e.DurationMS, &e.ClientHash, &e.Count); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteAuditBefore removes rows older than t.
func (d *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM audit WHERE at < ?`, ms(t))
	if err != nil {
		return 0, fmt.Errorf("audit retention: %w", err)
	}
	return res.RowsAffected()
}
