package resolvers_test

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// downStore is a store whose database went away: reads fail as a refused
// connection does.
type downStore struct{ gateway.Store }

func (downStore) ListMemoryRefs(context.Context, gateway.RefFilter, gateway.PageRequest) (gateway.Page[gateway.MemoryRef], error) {
	return gateway.Page[gateway.MemoryRef]{}, fmt.Errorf("error listing: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
}

// TestDatabaseDownIsUnavailable: a database that is down or restarting is
// UNAVAILABLE with extensions.retryable, not INTERNAL.
func TestDatabaseDownIsUnavailable(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withStore(func(s gateway.Store) gateway.Store { return downStore{s} }))
		e := h.onlyError(t, `{ memoryRefs { edges { cursor } } }`, nil)
		require.Equal(t, resolvers.CodeUnavailable, e.Extensions["code"])
		require.Equal(t, true, e.Extensions["retryable"])
		require.NotContains(t, e.Message, "127.0.0.1")
	})
}
