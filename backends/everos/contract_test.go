package everos_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/everos"
	"github.com/memory-gateway/memory-gateway/backends/everos/everostest"
)

// TestContract: the EverOS 1.x adapter keeps the adapter contract against
// the fake server: a backend that cannot delete, whose index serves what is
// written a few reads later.
func TestContract(t *testing.T) {
	t.Parallel()
	backendtest.Exercise(t, func(t *testing.T) backendtest.Fixture {
		fake := everostest.New()
		t.Cleanup(fake.Close)
		fake.Set(func(s *everostest.Server) { s.ReadsBeforeVisible = 2 })
		b, err := everos.New(everos.Config{BaseURL: fake.URL, Timeout: 2 * time.Second, ReadBackInterval: time.Millisecond})
		require.NoError(t, err)
		return backendtest.Fixture{
			Adapter: b,
			FailNext: func(n int, transient bool) {
				if transient {
					fake.Faults.FailNext(n, http.StatusServiceUnavailable, `{"request_id":"0","error":{"code":"EXTERNAL_SERVICE_UNAVAILABLE","message":"llm timed out"}}`)
				} else {
					fake.Faults.FailNext(n, http.StatusUnprocessableEntity, `{"request_id":"0","error":{"code":"INVALID_INPUT","message":"refused"}}`)
				}
			},
		}
	})
}
