package persistence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing/fstest"

	"github.com/uptrace/bun/migrate"

	"github.com/memory-gateway/memory-gateway/gateway"
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

// BatchesReads reports whether concurrent ingests' reads share a statement
// on this store.
func (db *DB) BatchesReads() bool { return db.sql.batchesReads() }

// IngestBasesAtOnce reads several turns' bases in the one statement
// concurrent ingests share (PostgreSQL).
func (s *Store) IngestBasesAtOnce(ctx context.Context, turns ...[3]string) ([][]gateway.MemoryRef, []bool, error) {
	keys := make([]basisKey, len(turns))
	for i, t := range turns {
		keys[i] = basisKey{gatewayID: t[0], workspaceID: t[1], userID: t[2]}
	}
	bases, err := readIngestBases(ctx, s.db, ingestBasesQuery(s.db), keys)
	if err != nil {
		return nil, nil, err
	}
	refs, erasing := make([][]gateway.MemoryRef, len(bases)), make([]bool, len(bases))
	for i, b := range bases {
		refs[i], erasing[i] = b.refs, b.erasing
	}
	return refs, erasing, nil
}

// SaveIngestBatch writes several ingests as one group-commit batch would.
func (s *Store) SaveIngestBatch(ctx context.Context, refs [][]gateway.MemoryRef, audits []gateway.AuditEntry) error {
	batch := make([]ingestWrite, len(refs))
	for i := range refs {
		batch[i] = ingestWrite{refs: refs[i], audit: audits[i]}
	}
	errs, err := saveIngests(ctx, s.db, batch)
	return errors.Join(append(errs, err)...)
}

// ExplainPrepared is PostgreSQL's plan of query, a statement the store runs
// prepared ($1… placeholders), run with args: a custom plan, or the generic
// one PostgreSQL may keep after five runs.
func (db *DB) ExplainPrepared(ctx context.Context, query string, args []any, generic bool) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	mode := "force_custom_plan"
	if generic {
		mode = "force_generic_plan"
	}
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = "+mode); err != nil {
		return "", err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "DEALLOCATE ALL; RESET plan_cache_mode") }()
	if _, err := conn.ExecContext(ctx, "PREPARE explained AS "+query); err != nil {
		return "", err
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	var plan []string
	if err := conn.NewRaw("EXPLAIN EXECUTE explained("+placeholders+")", args...).Scan(ctx, &plan); err != nil {
		return "", err
	}
	return strings.Join(plan, "\n"), nil
}
