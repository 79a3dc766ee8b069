package resolvers_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// fixedWindow is a window of backend-call metrics that never changes.
type fixedWindow gateway.BackendMetrics

func (w fixedWindow) BackendMetrics() gateway.BackendMetrics { return gateway.BackendMetrics(w) }

// TestBackendMetrics: backendMetrics answers the process's window of
// backend-call metrics to ADMIN keys of a whole workspace (and the
// operator), and FORBIDDEN to every other key, as backend health does.
func TestBackendMetrics(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		p95 := 4.5
		at := time.Date(2026, 12, 7, 12, 0, 10, 0, time.UTC)
		h := newHarness(t, db, withMetrics(fixedWindow{
			Replica: "host-1", Source: "memory_gateway_backend_call_duration_seconds", Interval: 10 * time.Second, Window: 10 * time.Minute,
			Backends: []gateway.BackendTrend{{Backend: backendtype.BackendLocal, Kind: gateway.BackendCallWrite,
				Points: []gateway.BackendTrendPoint{{At: at, CallsPerSecond: 2, P95Ms: &p95}}}},
		}))
		const query = `{ backendMetrics { replica source intervalSeconds windowSeconds backends { backend kind points { at callsPerSecond p50Ms p95Ms } } } }`
		_, resp := h.do(t, query, nil)
		require.Empty(t, resp.Errors)
		require.JSONEq(t, `{"backendMetrics": {"replica": "host-1", "source": "memory_gateway_backend_call_duration_seconds",
			"intervalSeconds": 10, "windowSeconds": 600, "backends": [{"backend": "LOCAL", "kind": "WRITE",
			"points": [{"at": "2026-12-07T12:00:10Z", "callsPerSecond": 2, "p50Ms": null, "p95Ms": 4.5}]}]}}`, string(resp.Data))

		for _, p := range []gateway.Principal{
			{Name: "agent", WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)},
			{Name: "dashboard", WorkspaceID: "ws", Role: gateway.RoleDashboard, Grants: grants("", gateway.AccessRead)},
		} {
			_, resp := h.doAs(t, &p, query, nil)
			require.Len(t, resp.Errors, 1, p.Name)
			require.Equal(t, resolvers.CodeForbidden, resp.Errors[0].Extensions["code"], p.Name)
		}
		admin := gateway.Principal{Name: "admin", WorkspaceID: "ws", Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)}
		_, resp = h.doAs(t, &admin, query, nil)
		require.Empty(t, resp.Errors)

		none := newHarness(t, db)
		_, resp = none.do(t, `{ backendMetrics { replica backends { backend } } }`, nil)
		require.Empty(t, resp.Errors)
		require.JSONEq(t, `{"backendMetrics": {"replica": "", "backends": []}}`, string(resp.Data), "a process keeping no window answers an empty one")
	})
}
