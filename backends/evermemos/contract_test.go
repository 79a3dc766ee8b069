package evermemos_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
)

// TestContract: the EverMemOS adapter keeps the adapter contract against
// the fake server.
func TestContract(t *testing.T) {
	t.Parallel()
	backendtest.Exercise(t, func(t *testing.T) backendtest.Fixture {
		fake := evermemostest.New()
		t.Cleanup(fake.Close)
		b, err := evermemos.New(evermemos.Config{BaseURL: fake.URL, Timeout: 2 * time.Second})
		require.NoError(t, err)
		return backendtest.Fixture{Adapter: b, FailNext: func(n int, transient bool) {
			if transient {
				fake.Faults.FailNext(n, http.StatusServiceUnavailable, `{"code":"UNAVAILABLE","message":"warming up"}`)
			} else {
				fake.Faults.FailNext(n, http.StatusBadRequest, `{"code":"INVALID_ARGUMENT","message":"refused"}`)
			}
		}}
	})
}
