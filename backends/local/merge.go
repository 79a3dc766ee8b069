package local

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Index merge settings.
const (
	// IndexMergeIntervalDefault is how often IndexMerger merges.
	IndexMergeIntervalDefault = time.Minute
	// indexMergePages bounds one merge step: about this many pages of the
	// index are written, so a step holds SQLite's write lock briefly.
	indexMergePages = 256
	// IndexMergeStepsPerRun bounds one run of IndexMerger; the next run
	// carries on.
	IndexMergeStepsPerRun = 64
)

// MergeIndex merges the full-text index's segments, one bounded step at a
// time, until one segment is left or maxSteps steps ran; it reports the
// steps that merged anything. Every write adds a segment to SQLite's FTS5
// index and its own merging keeps a few per level, and a search looks each
// word up in every segment: on an index merged into one a search costs
// about half (BENCHMARKS.md, "Recall as memory grows"). PostgreSQL's GIN
// index needs nothing of the kind.
func (b *Backend) MergeIndex(ctx context.Context, maxSteps int) (int, error) {
	merged := 0
	for range maxSteps {
		did, err := b.search.mergeStep(ctx, b.db)
		if err != nil {
			return merged, err
		}
		if !did {
			break
		}
		merged++
	}
	return merged, nil
}

// IndexMerger merges the local backend's full-text index in the background
// (MergeIndex, IndexMergeStepsPerRun steps every interval), as autovacuum
// keeps PostgreSQL's indexes. Build it with NewIndexMerger, then Start and
// Stop it.
type IndexMerger struct {
	backend  *Backend
	interval time.Duration
	logger   *slog.Logger
	runner   lifecycle.Runner
}

var _ lifecycle.Component = (*IndexMerger)(nil)

// NewIndexMerger merges b's index every interval (0: the default).
func NewIndexMerger(b *Backend, interval time.Duration, env lifecycle.Env) *IndexMerger {
	if interval <= 0 {
		interval = IndexMergeIntervalDefault
	}
	return &IndexMerger{backend: b, interval: interval, logger: env.Logger()}
}

// Start merges in the background, at once and then every interval. It
// returns at once.
func (m *IndexMerger) Start(ctx context.Context) error {
	return m.runner.StartEvery(ctx, m.interval, func(ctx context.Context) error {
		_, err := m.backend.MergeIndex(ctx, IndexMergeStepsPerRun)
		return err
	}, func(err error) {
		m.logger.Error("local: merging the full-text index failed", slog.String("err", err.Error()))
	})
}

// Stop ends the background merging, waiting until ctx is done for a step
// under way.
func (m *IndexMerger) Stop(ctx context.Context) error { return m.runner.Stop(ctx) }

// mergeStep is one FTS5 'merge' command, a negative page count so segments
// merge whatever their levels, in a transaction that reads the
// connection's total_changes() around it: the command itself counts one
// change, and a step that merged anything at least two (FTS5's documented
// test).
func (sqliteSearch) mergeStep(ctx context.Context, db *bun.DB) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("local: error merging the full-text index: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var before, after int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
		return false, fmt.Errorf("local: error merging the full-text index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO local_memories_fts (local_memories_fts, rank) VALUES ('merge', ?)", -indexMergePages); err != nil {
		return false, fmt.Errorf("local: error merging the full-text index: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&after); err != nil {
		return false, fmt.Errorf("local: error merging the full-text index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("local: error merging the full-text index: %w", err)
	}
	return after-before >= 2, nil
}
