package persistence_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// capturedStatements records the statements a database runs.
type capturedStatements struct {
	mu         sync.Mutex
	statements []capturedStatement
}

// capturedStatement is a statement's text, with its arguments when it ran
// prepared ($1… placeholders; nil otherwise).
type capturedStatement struct {
	text string
	args []any
}

func (c *capturedStatements) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (c *capturedStatements) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := capturedStatement{text: e.Query}
	if strings.Contains(e.Query, "$1") {
		// Only the statements run prepared have numbered placeholders;
		// bun's own are formatted with their arguments.
		s.args = e.QueryArgs
	}
	c.statements = append(c.statements, s)
}

func (c *capturedStatements) take() []capturedStatement {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.statements
	c.statements = nil
	return out
}

// plans are PostgreSQL's plans of a captured statement: its plan, or for a
// prepared statement both a custom plan and the generic one.
func plans(t *testing.T, ctx context.Context, db *persistence.DB, s capturedStatement) []string {
	t.Helper()
	if s.args == nil {
		var plan []string
		require.NoError(t, db.NewRaw("EXPLAIN "+s.text).Scan(ctx, &plan))
		return []string{strings.Join(plan, "\n")}
	}
	var out []string
	for _, generic := range []bool{false, true} {
		plan, err := db.ExplainPrepared(ctx, s.text, s.args, generic)
		require.NoError(t, err, "statement:\n%.300s", s.text)
		out = append(out, plan)
	}
	return out
}

// Statements for many keys at once — the ingest path's batches, a
// dashboard page's refs — reach memory_refs through its gateway_id index,
// on a table of tens of thousands of refs that was never analyzed (a new
// deployment filling up): planned as joins or literal IN lists they
// scanned every ref (30 ms a statement, not 1).
func TestBatchedStatementsProbeRefsByIndex(t *testing.T) {
	t.Parallel()
	pt.PostgresURL(t)
	ctx := context.Background()
	db := pt.Open(t, pt.Postgres)
	_, err := db.ExecContext(ctx, "INSERT INTO memory_refs (id, gateway_id, provenance_id, workspace_id, user_id, agent_id, session_id, "+
		"namespace, backend, ref_type, status, native_id, native_uri, created_at, updated_at) "+
		"SELECT 'ref_bulk' || n, 'gw_bulk' || (n / 2), 'prov' || n, 'ws', 'user', 'agent', 'session', 'team/alpha', 'LOCAL', "+
		"'message_memory', 'success', 'native' || n, CASE WHEN n % 10 = 0 THEN 'uri' || n END, now(), now() "+
		"FROM generate_series(1, 50000) AS n")
	require.NoError(t, err)

	store := persistence.NewStore(db)
	const turns = 64
	keys := make([][3]string, turns)
	ids := make([]string, turns)
	refs := make([][]gateway.MemoryRef, turns)
	audits := make([]gateway.AuditEntry, turns)
	for i := range turns {
		ids[i] = fmt.Sprintf("gw_bulk%d", 100+i*300)
		keys[i] = [3]string{ids[i], "ws", "user"}
		ref := pt.Ref()
		refs[i], audits[i] = []gateway.MemoryRef{ref}, pt.Audit(ref.ID)
	}
	captured := &capturedStatements{}
	db.AddQueryHook(captured)

	_, _, err = store.IngestBasesAtOnce(ctx, keys...)
	require.NoError(t, err)
	_, err = store.RefsByGatewayIDs(ctx, ids)
	require.NoError(t, err)
	// A retrieval's link of one backend's items, with and without uris.
	linked, err := store.RefsByNative(ctx, "ws", "LOCAL", []string{"native7", "native8"}, []string{"uri40"})
	require.NoError(t, err)
	require.Len(t, linked, 3)
	_, err = store.RefsByNative(ctx, "ws", "LOCAL", []string{"native9"}, nil)
	require.NoError(t, err)
	require.NoError(t, store.SaveIngestBatch(ctx, refs, audits))
	page := gateway.PageRequest{First: 10}
	_, err = store.ListMemoryRefsGrouped(ctx, gateway.RefsByGateway, ids[:50], gateway.RefFilter{}, page)
	require.NoError(t, err)
	_, err = store.CountMemoryRefsGrouped(ctx, gateway.RefsByGateway, ids[:50], gateway.RefFilter{})
	require.NoError(t, err)
	statements := captured.take()
	require.GreaterOrEqual(t, len(statements), 7)

	prepared := 0
	for _, s := range statements {
		if !strings.Contains(s.text, "memory_refs") {
			continue
		}
		if s.args != nil {
			prepared++
		}
		for _, plan := range plans(t, ctx, db, s) {
			require.NotContains(t, plan, "Seq Scan on memory_refs", "statement:\n%.300s\nplan:\n%s", s.text, plan)
			if strings.Contains(s.text, "native_uri = ANY") {
				// The links probe the native ids and uris themselves, not
				// every ref of the workspace and backend.
				require.Regexp(t, `Index Cond: \(.*native_id = ANY`, plan)
				require.Regexp(t, `Index Cond: \(.*native_uri = ANY`, plan)
			}
		}
	}
	// The ingest's read, its batch's prefetch and its write, and the
	// retrieval's links, run prepared: their generic plans were checked too.
	require.Equal(t, 5, prepared)
}

// A worker's completion runs prepared on PostgreSQL (the fenced update with
// the attempts, and the jobs' aggregation): on tables of tens of thousands
// of finished jobs and events never analyzed, neither its custom plans nor
// the generic one PostgreSQL may keep after five runs reads a whole table.
func TestCompletionStatementsProbeByIndex(t *testing.T) {
	t.Parallel()
	pt.PostgresURL(t)
	ctx := context.Background()
	db := pt.Open(t, pt.Postgres)
	_, err := db.ExecContext(ctx, "INSERT INTO commit_jobs (id, workspace_id, user_id, agent_id, session_id, namespace, status, "+
		"created_at, updated_at) SELECT 'gwc_bulk' || n, 'ws', 'user', 'agent', 'session' || n, 'team', 'success', now(), now() "+
		"FROM generate_series(1, 20000) AS n")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "INSERT INTO outbox_events (id, job_id, gateway_id, workspace_id, user_id, agent_id, session_id, "+
		"namespace, backend, operation, status, max_attempts, next_retry_at, claim_count, created_at, updated_at) "+
		"SELECT 'gwo_bulk' || n, 'gwc_bulk' || n, 'gw' || n, 'ws', 'user', 'agent', 'session' || n, 'team', 'local', "+
		"'commit_session', 'success', 5, now(), 1, now(), now() FROM generate_series(1, 20000) AS n")
	require.NoError(t, err)

	store := persistence.NewStore(db)
	completion, now := claimOneEvent(t, store)
	captured := &capturedStatements{}
	db.AddQueryHook(captured)
	completeToSuccess(t, store, completion, now)

	prepared := 0
	for _, s := range captured.take() {
		if s.args == nil {
			continue
		}
		prepared++
		for _, plan := range plans(t, ctx, db, s) {
			for _, table := range []string{"outbox_events", "commit_jobs", "memory_refs", "outbox_attempts"} {
				require.NotContains(t, plan, "Seq Scan on "+table, "statement:\n%.300s\nplan:\n%s", s.text, plan)
			}
		}
	}
	require.Equal(t, 2, prepared, "the completion's update and the jobs' aggregation")
}

// claimOneEvent records a commit job with one local event and claims it as
// worker-1; it returns the event's successful completion, and the time.
func claimOneEvent(t *testing.T, store *persistence.Store) (gateway.OutboxCompletion, time.Time) {
	t.Helper()
	ctx := context.Background()
	job := pt.Job()
	event := pt.Event(job, backendtype.BackendLocal)
	_, _, err := store.CreateCommitJob(ctx, job, []gateway.OutboxEvent{event}, pt.Audit(job.ID))
	require.NoError(t, err)
	now := pt.BaseTime.Add(time.Hour)
	batch, err := store.ClaimOutboxEvents(ctx, gateway.ClaimRequest{
		WorkerID: "worker-1", Backend: event.Backend, Limit: 1, Now: now, LeaseUntil: now.Add(time.Minute),
	})
	require.NoError(t, err)
	require.Len(t, batch.Events, 1)
	claimed := batch.Events[0]
	return gateway.OutboxCompletion{
		EventID: claimed.ID, JobID: claimed.JobID, Backend: claimed.Backend, Operation: claimed.Operation,
		FenceWorker: "worker-1", FenceClaim: claimed.ClaimCount, Status: gateway.OutboxSuccess,
		AttemptCount: claimed.AttemptCount, NextRetryAt: now, Metadata: gateway.Metadata{}, CompletedAt: &now,
		StartedAt: now, FinishedAt: now,
	}, now
}

// completeToSuccess applies c and checks that it landed and finished its job.
func completeToSuccess(t *testing.T, store *persistence.Store, c gateway.OutboxCompletion, now time.Time) {
	t.Helper()
	res, err := store.CompleteOutboxEvents(context.Background(), []gateway.OutboxCompletion{c}, now)
	require.NoError(t, err)
	require.Equal(t, []string{c.EventID}, res.Applied)
	require.Len(t, res.Jobs, 1)
	require.Equal(t, gateway.JobSuccess, res.Jobs[0].Status)
}

// The outbox depth is read by every /metrics scrape of every process: it
// reaches the pending, processing and dead-lettered events through their
// partial indexes, never the finished ones (all of the retention window).
func TestOutboxDepthReadsOwedEventsByIndex(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		insert := func(n int, prefix, status, lockedBy string) {
			t.Helper()
			lease := "NULL"
			if lockedBy != "" {
				lockedBy, lease = "'"+lockedBy+"'", "'2026-12-07 12:00:00+00'"
			} else {
				lockedBy = "NULL"
			}
			_, err := db.ExecContext(ctx, fmt.Sprintf("WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %d) "+
				"INSERT INTO outbox_events (id, gateway_id, workspace_id, user_id, agent_id, session_id, namespace, backend, operation, status, "+
				"max_attempts, next_retry_at, locked_by, lease_expires_at, claim_count, created_at, updated_at) "+
				"SELECT '%s' || n, 'gw' || n, 'ws', 'user', 'agent', 'session', 'team', 'openviking', 'commit_session', '%s', "+
				"5, '2026-12-07 12:00:00+00', %s, %s, 1, '2026-12-07 12:00:00+00', '2026-12-07 12:00:00+00' FROM g",
				n, prefix, status, lockedBy, lease))
			require.NoError(t, err)
		}
		insert(20_000, "evt_done", string(gateway.OutboxSuccess), "")
		insert(3, "evt_pending", string(gateway.OutboxPending), "")
		insert(2, "evt_running", string(gateway.OutboxProcessing), "worker-1")
		insert(1, "evt_dead", string(gateway.OutboxDeadLetter), "")

		captured := &capturedStatements{}
		db.AddQueryHook(captured)
		depth, err := persistence.NewStore(db).OutboxDepth(ctx)
		require.NoError(t, err)
		statements := captured.take()
		require.Len(t, statements, 1)
		got := depth[backendtype.BackendOpenViking]
		require.Equal(t, []int{3, 2, 1, 0}, []int{got.PendingEvents, got.ProcessingEvents, got.DeadLetterEvents, got.SuccessEvents})

		if db.Dialect().Name() == dialect.PG {
			var plan []string
			require.NoError(t, db.NewRaw("EXPLAIN "+statements[0].text).Scan(ctx, &plan))
			text := strings.Join(plan, "\n")
			require.NotContains(t, text, "Seq Scan on outbox_events", "plan:\n%s", text)
			return
		}
		var plan []struct {
			ID, Parent, Notused int
			Detail              string
		}
		require.NoError(t, db.NewRaw("EXPLAIN QUERY PLAN "+statements[0].text).Scan(ctx, &plan))
		reads := 0
		for _, step := range plan {
			if strings.HasPrefix(step.Detail, "SCAN outbox_events") || strings.HasPrefix(step.Detail, "SEARCH outbox_events") {
				reads++
				require.Contains(t, step.Detail, "INDEX", "a read of outbox_events without an index: %+v", plan)
			}
		}
		require.Equal(t, 3, reads, "%+v", plan)
	})
}
