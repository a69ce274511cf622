package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tomoni-cobrowse/tomoni/internal/store"
	"github.com/tomoni-cobrowse/tomoni/internal/store/postgres/pgtest"
	"github.com/tomoni-cobrowse/tomoni/internal/store/storetest"
)

// freshSchema makes an empty schema for one test and returns a pool
// configuration that uses it. A machine without PostgreSQL fails these
// tests rather than skipping them, so that a missing database cannot pass
// for a working store.
func freshSchema(t *testing.T) *pgxpool.Config {
	t.Helper()
	url, drop, err := pgtest.Schema(context.Background(), pgtest.URL(), "tomoni_test")
	if err != nil {
		t.Fatalf("%v (start it as .ci/run does, or set TOMONI_TEST_POSTGRES)", err)
	}
	t.Cleanup(drop)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := OpenConfig(context.Background(), freshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// Nodes of a cluster start together; each migration must still run once.
func TestNodesStartingTogetherMigrateOnce(t *testing.T) {
	cfg := freshSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := OpenConfig(context.Background(), cfg.Copy())
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a node failed to start: %v", err)
	}
	db, err := OpenConfig(context.Background(), cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.pool.QueryRow(context.Background(), `SELECT COUNT(*) FROM migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 1; n != want {
		t.Fatalf("%d migrations recorded, want %d", n, want)
	}
}
