// Package persistencetest gives tests a fresh, migrated database per test on
// every available store: always SQLite (a temp file), and PostgreSQL (a
// schema of its own) when TEST_DATABASE_URL is set.
package persistencetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/memory-gateway/memory-gateway/persistence"
)

// EnvDatabaseURL names the PostgreSQL server tests may use.
const EnvDatabaseURL = "TEST_DATABASE_URL"

// Dialect names a store under test.
type Dialect string

// Dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Dialects returns the stores available to this run.
func Dialects() []Dialect {
	if os.Getenv(EnvDatabaseURL) != "" {
		return []Dialect{SQLite, Postgres}
	}
	return []Dialect{SQLite}
}

// PostgresURL returns TEST_DATABASE_URL or skips the test when it is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvDatabaseURL)
	if u == "" {
		t.Skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
	}
	return u
}

// ForEach runs fn as a parallel subtest on every available store, each with
// its own fresh database.
func ForEach(t *testing.T, fn func(t *testing.T, db *persistence.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, d))
		})
	}
}

// Open returns a migrated database of the given dialect, private to t and
// removed when t ends.
func Open(t testing.TB, d Dialect) *persistence.DB {
	t.Helper()
	url := URL(t, d)
	db, err := persistence.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return db
}

// URL returns a connection URL to a database private to t: a temp SQLite
// file, or a fresh PostgreSQL schema (dropped when t ends) selected through
// search_path. Several processes or pools may open the same URL.
func URL(t testing.TB, d Dialect) string {
	t.Helper()
	if d == SQLite {
		return "file:" + filepath.Join(t.TempDir(), "test.db")
	}
	base := PostgresURL(t)
	schema := "test_" + randomHex(8)
	admin, err := persistence.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer func() { _ = admin.Close() }()
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := persistence.Open(context.Background(), base)
		if err != nil {
			return
		}
		defer func() { _ = admin.Close() }()
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	return withSearchPath(t, base, schema)
}

func withSearchPath(t testing.TB, base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Reopen opens a second, independent connection pool to the database of db,
// as another process would; it is closed when t ends.
func Reopen(t testing.TB, db *persistence.DB) *persistence.DB {
	t.Helper()
	other, err := persistence.Open(context.Background(), db.URL)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = other.Close() })
	return other
}
