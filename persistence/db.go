// Package persistence stores the gateway's control plane with bun, on
// PostgreSQL (pgdriver) or on an embedded SQLite file (sqliteshim, pure Go).
// It owns the migrations of both dialects, the Store behind the domain, and
// the per-dialect claim queries of the outbox worker.
package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// DefaultSQLitePath is where `go run .` keeps its data with no configuration.
const DefaultSQLitePath = "data/memory-gateway.db"

// Pool defaults for PostgreSQL.
const (
	PostgresMaxOpenConnsDefault = 20
	PostgresMaxIdleConnsDefault = 20
)

// sqlitePragmas are applied to every SQLite connection: wait for locks rather
// than fail, write-ahead logging so readers never block the writer, foreign
// keys on, and BEGIN IMMEDIATE so read-then-write transactions cannot fail
// with SQLITE_BUSY_SNAPSHOT.
var sqlitePragmas = []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"}

// DB is an open database with its dialect.
type DB struct {
	*bun.DB
	// URL is the connection string with any password removed, for logs.
	URL string
	// SQLitePath is the database file for SQLite, "" for PostgreSQL.
	SQLitePath string
	// sql is the dialect, chosen when the database opens.
	sql sqlDialect
	// prepared are the statements run prepared (PostgreSQL), and hooks the
	// query hooks they are reported to.
	prepared preparedStatements
	hooks    queryHooks
	// unprepared: those statements are sent as text instead
	// (UsePreparedStatements).
	unprepared atomic.Bool
}

// UsePreparedStatements says whether the statements the store runs prepared
// on PostgreSQL (the ingest's, the worker's completions) are prepared (the
// default), or sent as text with their arguments written in, as every other
// statement is: for a connection pooler that cannot keep a session's
// prepared statements (PgBouncer before 1.21 in transaction mode). Call it
// before the store is used.
func (db *DB) UsePreparedStatements(use bool) { db.unprepared.Store(!use) }

// Open connects to the database named by rawURL: postgres:// or postgresql://
// selects PostgreSQL; file:, sqlite: or a plain path selects SQLite; "" is the
// default SQLite file. It pings before returning.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	default:
		return openSQLite(ctx, rawURL)
	}
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	connector := pgdriver.NewConnector(pgdriver.WithApplicationName("memory-gateway"), pgdriver.WithDSN(rawURL),
		withDefaultConnParams(postgresSessionDefaults))
	sqldb := sql.OpenDB(connector)
	sqldb.SetMaxOpenConns(PostgresMaxOpenConnsDefault)
	sqldb.SetMaxIdleConns(PostgresMaxIdleConnsDefault)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{DB: bun.NewDB(sqldb, pgdialect.New()), URL: redactURL(rawURL), sql: postgresDialect{}}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("error connecting to PostgreSQL at %s: %w", db.URL, err)
	}
	return db, nil
}

// postgresSessionDefaults are session settings for every connection, unless
// the URL's query sets them. The gateway runs short OLTP statements only; a
// batch statement's estimated cost can still cross jit_above_cost, and then
// compiling it takes longer (tens of ms) than running it.
var postgresSessionDefaults = map[string]any{"jit": "off"}

// withDefaultConnParams adds params the URL did not set. (pgdriver's own
// WithConnParams replaces the URL's params; this merges.)
func withDefaultConnParams(defaults map[string]any) pgdriver.Option {
	return func(c *pgdriver.Config) {
		params := make(map[string]any, len(c.ConnParams)+len(defaults))
		maps.Copy(params, defaults)
		maps.Copy(params, c.ConnParams)
		c.ConnParams = params
	}
}

// SQLitePath resolves the file a SQLite URL names.
func SQLitePath(rawURL string) (string, error) {
	if rawURL == "" {
		return DefaultSQLitePath, nil
	}
	rest := rawURL
	for _, prefix := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if after, ok := strings.CutPrefix(rest, prefix); ok {
			rest = after
			break
		}
	}
	path, _, _ := strings.Cut(rest, "?")
	if path == "" || path == ":memory:" {
		return "", errors.New("an in-memory SQLite database is not supported: name a file")
	}
	return path, nil
}

func openSQLite(ctx context.Context, rawURL string) (*DB, error) {
	path, err := SQLitePath(rawURL)
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("error creating the SQLite directory %s: %w", dir, err)
		}
	}
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("error opening SQLite file %s: %w", path, err)
	}
	// One connection: SQLite has one writer, and a single connection turns
	// lock contention inside the process into queueing instead of SQLITE_BUSY.
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxIdleTime(0)
	sqldb.SetConnMaxLifetime(0)
	db := &DB{DB: bun.NewDB(sqldb, sqlitedialect.New()), URL: "file:" + path, SQLitePath: path, sql: sqliteDialect{}}
	// The first connection applies the pragmas, journal_mode(WAL) among
	// them: switching a new file to WAL, or opening it while another
	// process migrates it, can answer SQLITE_BUSY at once, without waiting
	// out busy_timeout. Processes opening one file take turns here, under
	// the lock migrations hold.
	unlock, err := lockFile(migrateLockPath(path))
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	err = db.PingContext(ctx)
	unlock()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("error opening SQLite file %s: %w", path, err)
	}
	return db, nil
}

// redactURL removes the password from a connection URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://(unparseable)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}
