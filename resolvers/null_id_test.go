package resolvers_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestNullIDIsNotGiven: an optional ID sent as null is an ID not given, as
// if the field were left out; it never names an id "null".
func TestNullIDIsNotGiven(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		var ignored any
		h.data(t, ingestMutation, turnVars(), &ignored)
		type refs struct {
			MemoryRefs struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		var left, null refs
		h.data(t, `{ memoryRefs(filter: {workspaceId: "ws"}) { edges { node { id } } } }`, nil, &left)
		require.NotEmpty(t, left.MemoryRefs.Edges)
		h.data(t, `query($s: ID) { memoryRefs(filter: {workspaceId: "ws", sessionId: $s}) { edges { node { id } } } }`,
			map[string]any{"s": nil}, &null)
		require.Equal(t, left, null, "a null variable")
		null = refs{}
		h.data(t, `{ memoryRefs(filter: {workspaceId: "ws", sessionId: null}) { edges { node { id } } } }`, nil, &null)
		require.Equal(t, left, null, "a null literal")
	})
}
