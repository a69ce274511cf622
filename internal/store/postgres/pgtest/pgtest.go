// Package pgtest gives tests and the load tool an empty PostgreSQL schema
// of their own on a shared server, and drops it afterwards.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// URL is the server tests use: TOMONI_TEST_POSTGRES, or the machine's
// (started by .ci/run).
func URL() string {
	if u := os.Getenv("TOMONI_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Schema makes an empty schema, named prefix and a random suffix, on the
// server at base. It returns a URL that uses it and a function that drops
// it.
func Schema(ctx context.Context, base, prefix string) (url string, drop func(), err error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", base, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop = func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, drop, nil
}
