package openviking_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
)

// TestContract: the OpenViking adapter keeps the adapter contract against
// the fake server.
func TestContract(t *testing.T) {
	t.Parallel()
	backendtest.Exercise(t, func(t *testing.T) backendtest.Fixture {
		fake := openvikingtest.New()
		t.Cleanup(fake.Close)
		b, err := openviking.New(openviking.Config{BaseURL: fake.URL, APIKey: "root-key", Timeout: 2 * time.Second, PollInterval: time.Millisecond})
		require.NoError(t, err)
		return backendtest.Fixture{Adapter: b, FailNext: func(n int, transient bool) {
			if transient {
				fake.Faults.FailNext(n, http.StatusServiceUnavailable, `{"status":"error","error":{"code":"UNAVAILABLE","message":"warming up"}}`)
			} else {
				fake.Faults.FailNext(n, http.StatusForbidden, `{"status":"error","error":{"code":"PERMISSION_DENIED","message":"read only"}}`)
			}
		}}
	})
}
