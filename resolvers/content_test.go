package resolvers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// controlPlaneTables must never hold conversation content.
var controlPlaneTables = []string{"memory_refs", "commit_jobs", "outbox_events", "audit_entries", "memory_feedback"}

// TestNoContentInControlPlane ingests turns carrying a marker (in the content
// and in metadata under keys that must be dropped), commits and gives
// feedback, then reads every column of every control-plane row as text.
func TestNoContentInControlPlane(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		const marker = "zebra-quokka-7731"
		for i := range 3 {
			var p ingestPayload
			h.data(t, ingestMutation, turnVars(func(in map[string]any) {
				in["turnId"] = fmt.Sprintf("t%d", i)
				in["content"] = "my secret is " + marker + fmt.Sprint(i)
				in["metadata"] = map[string]any{
					"channel":    "web",
					"content":    marker,
					"transcript": []any{marker},
					"nested":     map[string]any{"messages": marker, "raw_request": marker},
				}
			}), &p)
		}
		var commit struct {
			CommitSession struct{ Job struct{ ID string } }
		}
		h.data(t, `mutation { commitSession(input: {workspaceId: "ws", userId: "u1", agentId: "a1", sessionId: "s1", namespace: "team"}) { job { id } } }`, nil, &commit)
		var refs struct {
			MemoryRefs struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		h.data(t, `{ memoryRefs(first: 1) { edges { node { id } } } }`, nil, &refs)
		var fb struct {
			RecordMemoryFeedback struct{ Feedback struct{ ID string } }
		}
		h.data(t, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id } } }`,
			map[string]any{"in": map[string]any{"workspaceId": "ws", "userId": "u1", "agentId": "a1", "namespace": "team",
				"memoryRefId": refs.MemoryRefs.Edges[0].Node.ID, "feedbackType": "CORRECTION",
				"correction": "actually " + marker, "comment": "see " + marker}}, &fb)

		rowsSeen := 0
		for _, table := range controlPlaneTables {
			for _, row := range dumpTable(t, db, table) {
				rowsSeen++
				require.NotContains(t, row, marker, "table %s holds content: %s", table, row)
			}
		}
		require.Greater(t, rowsSeen, 5)
		// The marker is really stored where content belongs, so the search
		// above could have found it.
		require.True(t, strings.Contains(strings.Join(dumpTable(t, db, "local_memories"), "\n"), marker))
		require.True(t, strings.Contains(strings.Join(dumpTable(t, db, "feedback_content"), "\n"), marker))
	})
}

// dumpTable returns every row of a table with all columns rendered as text.
func dumpTable(t *testing.T, db *persistence.DB, table string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		values := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		var b strings.Builder
		for i, v := range values {
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		out = append(out, b.String())
	}
	require.NoError(t, rows.Err())
	return out
}
