package persistence_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// capturedStatements records the statements a database runs.
type capturedStatements struct {
	mu    sync.Mutex
	texts []string
}

func (c *capturedStatements) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (c *capturedStatements) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts = append(c.texts, e.Query)
}

func (c *capturedStatements) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.texts
	c.texts = nil
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
		"namespace, backend, ref_type, status, created_at, updated_at) "+
		"SELECT 'ref_bulk' || n, 'gw_bulk' || (n / 2), 'prov' || n, 'ws', 'user', 'agent', 'session', 'team/alpha', 'LOCAL', "+
		"'message_memory', 'success', now(), now() FROM generate_series(1, 50000) AS n")
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
	require.NoError(t, store.SaveIngestBatch(ctx, refs, audits))
	page := gateway.PageRequest{First: 10}
	_, err = store.ListMemoryRefsGrouped(ctx, gateway.RefsByGateway, ids[:50], gateway.RefFilter{}, page)
	require.NoError(t, err)
	_, err = store.CountMemoryRefsGrouped(ctx, gateway.RefsByGateway, ids[:50], gateway.RefFilter{})
	require.NoError(t, err)
	statements := captured.take()
	require.GreaterOrEqual(t, len(statements), 5)

	for _, s := range statements {
		if !strings.Contains(s, "memory_refs") {
			continue
		}
		var plan []string
		require.NoError(t, db.NewRaw("EXPLAIN "+s).Scan(ctx, &plan))
		text := strings.Join(plan, "\n")
		require.NotContains(t, text, "Seq Scan on memory_refs", "statement:\n%.300s\nplan:\n%s", s, text)
	}
}
