package resolvers_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// probedBackend counts its health probes; with a gate, a probe signals
// started and waits for the gate (or its context).
type probedBackend struct {
	name    backendtype.Backend
	probes  atomic.Int32
	started chan struct{}
	gate    chan struct{}
}

func (b *probedBackend) Name() backendtype.Backend { return b.name }

func (b *probedBackend) Health(ctx context.Context) error {
	b.probes.Add(1)
	if b.gate == nil {
		return nil
	}
	b.started <- struct{}{}
	select {
	case <-b.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	healthAdmin    = gateway.Principal{Name: "ws-admin", WorkspaceID: "ws", Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)}
	healthOperator = gateway.Principal{Name: "ops", WorkspaceID: gateway.AllWorkspaces, Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)}
)

// aliasedBackends asks for backend health n times in one operation.
func aliasedBackends(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " b%d: backends { backend healthy }", i)
	}
	b.WriteString(" }")
	return b.String()
}

// TestBackendHealthIsCachedAndForAdmins: thirty aliases of backends make
// one probe per backend, and so does every request until HealthCacheTTL
// has passed on the service's clock; keys that are not an ADMIN of a whole
// workspace (or the operator) get FORBIDDEN on the field and probe nothing;
// the field takes a token of the key's health rate.
func TestBackendHealthIsCachedAndForAdmins(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		clock := &manualClock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
		ov := &probedBackend{name: backendtype.BackendOpenViking}
		em := &probedBackend{name: backendtype.BackendEverMemOS}
		h := newHarness(t, db, strict(), withClock(clock.Now), withBackends(local.New(db.DB, clock.Now), ov, em))
		probes := func() [2]int32 { return [2]int32{ov.probes.Load(), em.probes.Load()} }

		_, resp := h.doAs(t, &healthAdmin, aliasedBackends(30), nil)
		require.Empty(t, resp.Errors)
		require.Equal(t, [2]int32{1, 1}, probes(), "thirty aliases, one probe per backend")
		_, resp = h.doAs(t, &healthOperator, aliasedBackends(30), nil)
		require.Empty(t, resp.Errors)
		require.Equal(t, [2]int32{1, 1}, probes(), "another key within the TTL: the same round")

		clock.Advance(gateway.HealthCacheTTL - time.Nanosecond)
		_, resp = h.doAs(t, &healthAdmin, `{ backends { backend } }`, nil)
		require.Empty(t, resp.Errors)
		require.Equal(t, [2]int32{1, 1}, probes(), "just before the TTL")
		clock.Advance(time.Nanosecond)
		_, resp = h.doAs(t, &healthAdmin, aliasedBackends(30), nil)
		require.Empty(t, resp.Errors)
		require.Equal(t, [2]int32{2, 2}, probes(), "once the TTL has passed: one new round")

		for _, tc := range []struct {
			name string
			p    gateway.Principal
		}{
			{"an agent key", gateway.Principal{Name: "agent", WorkspaceID: "ws", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}},
			{"a dashboard key", gateway.Principal{Name: "dash", WorkspaceID: "ws", Role: gateway.RoleDashboard, Grants: grants("", gateway.AccessRead)}},
			{"an admin of one namespace", gateway.Principal{Name: "ns-admin", WorkspaceID: "ws", Role: gateway.RoleAdmin, Grants: grants("support", gateway.AccessAdmin)}},
			{"an admin bound to a user", gateway.Principal{Name: "user-admin", WorkspaceID: "ws", UserID: "u1", Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)}},
		} {
			clock.Advance(gateway.HealthCacheTTL)
			_, resp := h.doAs(t, &tc.p, aliasedBackends(30), nil)
			require.Len(t, resp.Errors, 30, tc.name)
			for _, e := range resp.Errors {
				require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"], tc.name)
				require.Len(t, e.Path, 1, tc.name)
				require.True(t, strings.HasPrefix(e.Path[0].(string), "b"), "%s: the error names the field: %v", tc.name, e.Path)
				require.Contains(t, e.Message, "backend health", tc.name)
			}
			require.Equal(t, [2]int32{2, 2}, probes(), "%s probes nothing", tc.name)
		}
		_, resp = h.doAs(t, &gateway.Principal{Name: "agent", WorkspaceID: "ws", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}, `{ backends { backend } }`, nil)
		require.Len(t, resp.Errors, 1)
		require.Equal(t, []any{"backends"}, resp.Errors[0].Path)

		limited := newHarness(t, db, strict(), withClock(clock.Now), withBackends(ov, em),
			withLimiter(policy.NewLimiter(map[string]policy.Rate{gateway.LimitHealth: {PerSecond: 0.001, Burst: 2}})))
		_, resp = limited.doAs(t, &healthAdmin, aliasedBackends(3), nil)
		require.Len(t, resp.Errors, 1, "two tokens, three fields")
		require.Equal(t, resolvers.CodeRateLimited, resp.Errors[0].Extensions["code"])
	})
}

// TestBackendHealthProbeIsSharedInFlight: callers that arrive while a
// round of probes is under way wait for it instead of probing again, and a
// caller that goes away does not fail the round for the others.
func TestBackendHealthProbeIsSharedInFlight(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		clock := &manualClock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
		slow := &probedBackend{name: backendtype.BackendOpenViking, started: make(chan struct{}, 1), gate: make(chan struct{})}
		h := newHarness(t, db, strict(), withClock(clock.Now), withBackends(slow))
		type result struct {
			statuses []gateway.BackendStatus
			err      error
		}
		call := func(ctx context.Context) <-chan result {
			out := make(chan result, 1)
			go func() {
				st, err := h.svc.BackendStatuses(gateway.WithPrincipal(ctx, healthAdmin))
				out <- result{st, err}
			}()
			return out
		}

		first, cancel := context.WithCancel(context.Background())
		gone := call(first)
		<-slow.started
		cancel()
		require.ErrorIs(t, (<-gone).err, context.Canceled, "the caller that went away")

		waiting := call(context.Background())
		close(slow.gate)
		got := <-waiting
		require.NoError(t, got.err)
		require.Len(t, got.statuses, 1)
		cause := ""
		if got.statuses[0].Error != nil {
			cause = *got.statuses[0].Error
		}
		require.True(t, got.statuses[0].Healthy, "the round was not cut short by the caller that left: %s", cause)
		require.Equal(t, int32(1), slow.probes.Load(), "one probe for both callers")
	})
}
