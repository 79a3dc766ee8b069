package openviking_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
)

// TestContract: the OpenViking adapter keeps the adapter contract against
// the fake server, in trusted mode with a root key and in api_key mode
// (users registered with keys of their own). Listing pages are small, so a
// user's tree takes several.
func TestContract(t *testing.T) {
	t.Parallel()
	for _, apiKeyMode := range []bool{false, true} {
		name := map[bool]string{false: "Trusted", true: "APIKey"}[apiKeyMode]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backendtest.Exercise(t, func(t *testing.T) backendtest.Fixture {
				fake := openvikingtest.New()
				t.Cleanup(fake.Close)
				fake.Set(func(s *openvikingtest.Server) { s.RootKey, s.APIKeyMode, s.TaskPolls = "root-key", apiKeyMode, 1 })
				cfg := openviking.Config{BaseURL: fake.URL, APIKey: "root-key", Timeout: 2 * time.Second, PollInterval: time.Millisecond, ListPage: 50}
				if apiKeyMode {
					cfg.UserKeys = map[string]string{}
					for i := range 20 {
						for _, user := range []string{contractUser(i), contractUser(i) + "other"} {
							key := "key-" + user
							cfg.UserKeys["contract/"+user] = key
							fake.RegisterUser("contract", user, key)
						}
					}
				}
				b, err := openviking.New(cfg)
				require.NoError(t, err)
				return backendtest.Fixture{
					Adapter: b,
					FailNext: func(n int, transient bool) {
						if transient {
							fake.Faults.FailNext(n, http.StatusServiceUnavailable, `{"status":"error","error":{"code":"UNAVAILABLE","message":"warming up","details":{}}}`)
						} else {
							fake.Faults.FailNext(n, http.StatusForbidden, `{"status":"error","error":{"code":"PERMISSION_DENIED","message":"read only","details":{}}}`)
						}
					},
					ConflictNext:  fake.ConflictNext,
					IgnoreDeletes: func() { fake.Set(func(s *openvikingtest.Server) { s.IgnoreDeletes = true }) },
					SeedMemories:  func(workspace, user string, n int) { fake.SeedMemories(workspace, user, n) },
				}
			})
		})
	}
}

// contractUser is the user of the contract's i-th check.
func contractUser(i int) string { return "user" + strconv.Itoa(i) }
