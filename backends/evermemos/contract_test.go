package evermemos_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/remote"
)

// TestContract: the EverMemOS (EverCore) adapter keeps the adapter contract
// against the fake server. Its search keeps serving what a delete by id
// removed (service/memcell_delete_service.py:112-143), so deletes are
// checked by listing.
func TestContract(t *testing.T) {
	t.Parallel()
	backendtest.Exercise(t, func(t *testing.T) backendtest.Fixture {
		fake := evermemostest.New()
		t.Cleanup(fake.Close)
		b, err := evermemos.New(evermemos.Config{BaseURL: fake.URL, Timeout: 2 * time.Second})
		require.NoError(t, err)
		return backendtest.Fixture{
			Adapter: b,
			FailNext: func(n int, transient bool) {
				if transient {
					fake.Faults.FailNext(n, http.StatusInternalServerError, `{"code":"SYSTEM_ERROR","message":"Internal server error"}`)
				} else {
					fake.Faults.FailNext(n, http.StatusUnprocessableEntity, `{"code":"HTTP_ERROR","message":"refused"}`)
				}
			},
			IgnoreDeletes: func() { fake.Set(func(s *evermemostest.Server) { s.IgnoreDeletes = true }) },
			SeedMemories: func(workspace, user string, n int) {
				fake.SeedEpisodes(remote.Identify(workspace, user).ScopedUserID(), n)
			},
			SearchKeepsDeleted: true,
		}
	})
}
