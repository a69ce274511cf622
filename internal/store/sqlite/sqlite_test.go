package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tomoni-cobrowse/tomoni/internal/store"
	"github.com/tomoni-cobrowse/tomoni/internal/store/storetest"
)

func mustOpen(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t) })
}

func TestMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	for range 2 {
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

// A data directory may be named anything the file system allows; the
// database must end up inside it, where a backup of the directory finds it.
func TestDatabaseStaysInsideOddlyNamedDirectories(t *testing.T) {
	for _, name := range []string{"a#b", "a?b", "100%", "with space", "日本語"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "tomoni.db")
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			var mode string
			if err := db.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Errorf("journal_mode = %q (%v), want wal: the pragmas must survive the escaping", mode, err)
			}
			db.Close()
			if _, err := os.Stat(path); err != nil {
				entries, _ := os.ReadDir(filepath.Dir(dir))
				t.Fatalf("database not at %s (%v); parent holds %v", path, err, entries)
			}
		})
	}
}

// A backup taken while the server writes holds every committed row and
// opens as a database of its own.
func TestBackupWhileOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "tomoni.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateStaff(ctx, store.Staff{Username: "sato", DisplayName: "佐藤", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "copy.db")
	if err := Backup(ctx, path, dest); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, path, dest); err == nil {
		t.Fatal("a second backup overwrote the first")
	}
	cp, err := Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if s, err := cp.StaffByUsername(ctx, "sato"); err != nil || s.DisplayName != "佐藤" {
		t.Fatalf("the copy holds %+v, %v", s, err)
	}
}
