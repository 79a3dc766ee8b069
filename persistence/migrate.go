package persistence

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

// migrationsTable and migrationLocksTable name bun's bookkeeping tables.
const (
	migrationsTable     = "schema_migrations"
	migrationLocksTable = "schema_migration_locks"
)

func (db *DB) migrations() (*migrate.Migrations, error) {
	sub, err := fs.Sub(migrationFiles, db.sql.migrationsDir())
	if err != nil {
		return nil, fmt.Errorf("error opening embedded migrations: %w", err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("error discovering migrations: %w", err)
	}
	return ms, nil
}

func (db *DB) migrator() (*migrate.Migrator, error) {
	ms, err := db.migrations()
	if err != nil {
		return nil, err
	}
	return migrate.NewMigrator(db.DB, ms,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationLocksTable),
		migrate.WithMarkAppliedOnSuccess(true),
	), nil
}

// Migrate applies every pending migration. Concurrent callers wait for each
// other: on PostgreSQL through an advisory lock held on a dedicated
// connection, on SQLite through an exclusive lock on a file next to the
// database. A second process therefore waits and then finds nothing to do.
func (db *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	m, err := db.migrator()
	if err != nil {
		return err
	}
	unlock, err := db.sql.lockMigrations(ctx, db)
	if err != nil {
		return err
	}
	defer unlock()

	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("error creating the migrations table: %w", err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("error applying migrations: %w", err)
	}
	if group.IsZero() {
		logger.InfoContext(ctx, "persistence: schema is up to date")
		return nil
	}
	for _, mig := range group.Migrations {
		logger.InfoContext(ctx, "persistence: applied migration", slog.String("name", mig.Name), slog.String("comment", mig.Comment))
	}
	return nil
}

// PendingMigrations counts migrations not yet applied (readiness uses it).
func (db *DB) PendingMigrations(ctx context.Context) (int, error) {
	m, err := db.migrator()
	if err != nil {
		return 0, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return 0, fmt.Errorf("error reading migration status: %w", err)
	}
	return len(ms.Unapplied()), nil
}
