package persistence

import (
	"context"
	"fmt"
	"io/fs"
	"testing/fstest"

	"github.com/uptrace/bun/migrate"
)

// MigrateThrough applies the migrations up to and including the one whose
// name starts with last, as a database created before the later ones would
// be; Migrate then applies the rest. For testing data migrations.
func (db *DB) MigrateThrough(ctx context.Context, last string) error {
	sub, err := fs.Sub(migrationFiles, db.sql.migrationsDir())
	if err != nil {
		return err
	}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		return err
	}
	early := fstest.MapFS{}
	for _, e := range entries {
		if e.Name() > last+"\xff" {
			continue
		}
		raw, err := fs.ReadFile(sub, e.Name())
		if err != nil {
			return err
		}
		early[e.Name()] = &fstest.MapFile{Data: raw}
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(early); err != nil {
		return fmt.Errorf("error discovering migrations: %w", err)
	}
	m := migrate.NewMigrator(db.DB, ms, migrate.WithTableName(migrationsTable), migrate.WithLocksTableName(migrationLocksTable), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return err
	}
	_, err = m.Migrate(ctx)
	return err
}
