package local_test

import (
	"testing"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestContract: the local backend keeps the adapter contract, on both
// stores. (It cannot be made to fail on demand: its database is the
// gateway's own.)
func TestContract(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		backendtest.Exercise(t, func(*testing.T) backendtest.Fixture {
			return backendtest.Fixture{Adapter: local.New(db.DB, nil)}
		})
	})
}
