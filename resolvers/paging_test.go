package resolvers_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// TestPagingArgumentsAreValidated: a root list pages forward (first, after)
// or backward (last, before); mixing the directions, a negative or oversized
// page and a bad cursor are refused with BAD_USER_INPUT naming the argument.
func TestPagingArgumentsAreValidated(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		tests := []struct {
			name, args, field string
		}{
			{"first and last", "first: 2, last: 2", "last"},
			{"after and before", `after: "x", before: "y"`, "before"},
			{"first with before", `first: 2, before: "y"`, "before"},
			{"last with after", `last: 2, after: "x"`, "after"},
			{"negative last", "last: -1", "last"},
			{"last over the maximum", "last: 1000", "last"},
			{"negative first", "first: -1", "first"},
			{"bad before cursor", `last: 2, before: "not-a-cursor"`, "before"},
			{"bad after cursor", `first: 2, after: "not-a-cursor"`, "after"},
		}
		for _, tt := range tests {
			for _, list := range []string{"jobs", "outboxEvents", "memoryRefs", "webhookDeliveries"} {
				e := h.onlyError(t, `{ `+list+`(`+tt.args+`) { pageInfo { hasNextPage } } }`, nil)
				require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], "%s %s: %+v", list, tt.name, e)
				require.Equal(t, tt.field, e.Extensions["field"], "%s %s", list, tt.name)
			}
		}
	})
}
