package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backends/local/localtest"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/persistence"
)

// Recall-growth scenario settings.
const (
	recallSchema     = "recall_growth"
	recallUser       = "me"
	recallOthers     = 4
	recallOtherTurns = 10_000
	recallLimit      = 10
	recallWarmup     = 10
	recallTarget     = 1.5
)

// recallSizes are the grown user's history sizes, smallest first.
var recallSizes = []int{100, 1_000, 10_000}

// recallQuery is one query the scenario times at every size.
type recallQuery struct {
	name, text string
	// target: the p50 ratio largest/smallest size is held to recallTarget.
	target bool
}

var recallQueries = []recallQuery{
	{"favourites", localtest.Query, true},
	{"common word", localtest.CommonQuery, false},
}

// recallStore is one store the scenario fills and queries.
type recallStore struct {
	name string
	url  func(ctx context.Context, e *env) (string, error)
	// settle is what the store does after a fill before it is queried.
	settle string
}

var recallStores = []recallStore{
	{"SQLite", func(_ context.Context, e *env) (string, error) {
		return "file:" + filepath.Join(e.tmpDir, "recall-growth.db"), nil
	}, ""},
	{"PostgreSQL", func(ctx context.Context, e *env) (string, error) { return e.freshSchema(ctx, recallSchema) }, "VACUUM ANALYZE local_memories"},
}

func runRecallGrowth(ctx context.Context, e *env) (*ScenarioResult, error) {
	res := &ScenarioResult{Title: "local backend recall as one user's history grows to 100, 1,000 and 10,000 turns among other users', on SQLite and PostgreSQL"}
	raw := map[string]any{}
	for _, s := range recallStores {
		sample, err := e.recallGrowth(ctx, s)
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
		raw[s.name] = sample
		for _, q := range recallQueries {
			at := func(i int) string { return thousands(float64(recallSizes[i])) + " turns" }
			first, last := sample[q.name][0], len(recallSizes)-1
			for i := 1; i <= last; i++ {
				row := figure(fmt.Sprintf("%s, %s: p50 @ %s", s.name, q.name, at(i)), unitMs, sample[q.name][i].P50, first.P50, "p50 @ "+at(0))
				if q.target && i == last {
					row = row.ratioAtMost(recallTarget)
				}
				res.Rows = append(res.Rows, row)
			}
			res.Rows = append(res.Rows, figure(fmt.Sprintf("%s, %s: p99 @ %s", s.name, q.name, at(last)), unitMs, sample[q.name][last].P99, first.P99, "p99 @ "+at(0)))
		}
	}
	res.Notes = []string{
		fmt.Sprintf("Straight through the local backend (backends/local Retrieve, limit %d, in the bench process), not over GraphQL: the figures are the search alone. Each store holds %d other users of %s turns (backends/local/localtest: everyday chores plus %d stated favourites each), filled many turns per statement; the grown user's history is filled to each size in turn, and %d warm-up calls precede the %d timed calls of each query.",
			recallLimit, recallOthers, thousands(recallOtherTurns), localtest.Favourites, recallWarmup, e.cfg.recallQueries),
		fmt.Sprintf("Queries: favourites %q (its words are in the user's %d favourites alone, so as many turns match at every size); common word %q (about one turn in 18 holds it, so its matches grow with the history: an exact ranking scores every one of them).",
			localtest.Query, localtest.Favourites, localtest.CommonQuery),
		"SQLite: the embedded file store the server uses by default, never analyzed (the server does not run ANALYZE); its full-text index merged after each fill (local.Backend.MergeIndex), as the server's index merger does every minute. PostgreSQL: VACUUM ANALYZE local_memories after each fill, as autovacuum would.",
	}
	res.Raw = raw
	return res, nil
}

// recallGrowth fills a fresh database of store s and times each query at
// each size.
func (e *env) recallGrowth(ctx context.Context, s recallStore) (map[string][]Latency, error) {
	url, err := s.url(ctx, e)
	if err != nil {
		return nil, err
	}
	db, err := persistence.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	backend := local.New(db.DB, nil)
	for u := range recallOthers {
		if err := localtest.Fill(ctx, backend, fmt.Sprintf("other%d", u), 0, recallOtherTurns); err != nil {
			return nil, err
		}
	}
	out := map[string][]Latency{}
	filled := 0
	for _, size := range recallSizes {
		started := time.Now()
		if err := localtest.Fill(ctx, backend, recallUser, filled, size); err != nil {
			return nil, err
		}
		filled = size
		if s.settle != "" {
			if _, err := db.ExecContext(ctx, s.settle); err != nil {
				return nil, fmt.Errorf("error running %s: %w", s.settle, err)
			}
		}
		filledIn := time.Since(started)
		// What the server's local.IndexMerger does every minute.
		merging := time.Now()
		steps, err := backend.MergeIndex(ctx, math.MaxInt)
		if err != nil {
			return nil, err
		}
		e.logf("recall-growth: %s, %s turns filled in %s, index merged in %d steps (%s)", s.name, thousands(float64(size)),
			filledIn.Round(time.Millisecond), steps, time.Since(merging).Round(time.Millisecond))
		for _, q := range recallQueries {
			l, err := e.timeRecall(ctx, backend, q.text)
			if err != nil {
				return nil, fmt.Errorf("%s at %d turns: %w", q.name, size, err)
			}
			out[q.name] = append(out[q.name], l)
		}
	}
	return out, nil
}

// timeRecall times e.cfg.recallQueries retrievals of query.
func (e *env) timeRecall(ctx context.Context, backend *local.Backend, query string) (Latency, error) {
	q := backendtype.RetrievalQuery{WorkspaceID: localtest.Workspace, UserID: recallUser, Namespace: localtest.Namespace, Query: query, Limit: recallLimit}
	sample := make([]time.Duration, 0, e.cfg.recallQueries)
	for i := range recallWarmup + e.cfg.recallQueries {
		started := time.Now()
		items, err := backend.Retrieve(ctx, q)
		elapsed := time.Since(started)
		if err != nil {
			return Latency{}, err
		}
		if len(items) == 0 {
			return Latency{}, fmt.Errorf("no memory found for %q", query)
		}
		if i >= recallWarmup {
			sample = append(sample, elapsed)
		}
	}
	return summarize(sample), nil
}
