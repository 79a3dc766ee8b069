package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

// identifierPattern is what the bench accepts as a database or schema name:
// it is interpolated into DDL.
var identifierPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// openDB connects to PostgreSQL and pings.
func openDB(ctx context.Context, rawURL string) (*bun.DB, error) {
	sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(rawURL), pgdriver.WithApplicationName("memory-gateway-bench")))
	db := bun.NewDB(sqldb, pgdialect.New())
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("error connecting to %s: %w", redact(rawURL), err)
	}
	return db, nil
}

// recreateDatabase drops and creates the bench database through the admin
// connection and returns its URL.
func recreateDatabase(ctx context.Context, adminURL, name string) (string, error) {
	if !identifierPattern.MatchString(name) {
		return "", fmt.Errorf("invalid database name %q", name)
	}
	admin, err := openDB(ctx, adminURL)
	if err != nil {
		return "", err
	}
	defer func() { _ = admin.Close() }()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("error dropping database %s: %w", name, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("error creating database %s: %w", name, err)
	}
	return withDatabase(adminURL, name)
}

// withDatabase returns rawURL naming another database.
func withDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("error parsing the database URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// withSearchPath returns rawURL with a search_path startup parameter, which
// both the gateway's driver and the bench's send to the server.
func withSearchPath(rawURL, schema string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("error parsing the database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// freshSchema drops and creates a schema in the bench database and returns
// a URL whose connections use it.
func (e *env) freshSchema(ctx context.Context, schema string) (string, error) {
	if !identifierPattern.MatchString(schema) {
		return "", fmt.Errorf("invalid schema name %q", schema)
	}
	if _, err := e.db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return "", fmt.Errorf("error dropping schema %s: %w", schema, err)
	}
	if _, err := e.db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", fmt.Errorf("error creating schema %s: %w", schema, err)
	}
	return withSearchPath(e.benchURL, schema)
}

// checkpoint flushes dirty pages so that no measurement pays for the
// previous one's checkpoint.
func (e *env) checkpoint(ctx context.Context) error {
	if _, err := e.db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("error running CHECKPOINT: %w", err)
	}
	return nil
}

// countRows returns the number of rows of each table of a schema.
func (e *env) countRows(ctx context.Context, schema string, tables []string) (map[string]int64, error) {
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		if !identifierPattern.MatchString(t) {
			return nil, fmt.Errorf("invalid table name %q", t)
		}
		var n int64
		if err := e.db.QueryRowContext(ctx, "SELECT count(*) FROM "+schema+"."+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("error counting %s.%s: %w", schema, t, err)
		}
		out[t] = n
	}
	return out, nil
}

// redact hides a password in a URL for messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return strings.TrimSpace(u.String())
}
