package resolvers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

func TestAbusiveQueriesAreRejected(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	h := newHarness(t, db, withHandlerConfig(resolvers.HandlerConfig{MaxDepth: 8, MaxAliases: 5, TokenLimit: 500}))

	deep := `{ memoryRefs { edges { node { job { session { refs { edges { node { id } } } } } } } } }`
	e := h.onlyError(t, deep, nil)
	require.Equal(t, resolvers.CodeQueryTooDeep, e.Extensions["code"], e.Message)

	// Depth through fragments counts too.
	viaFragment := `query { memoryRefs { edges { ...E } } } fragment E on MemoryRefEdge { node { job { session { refs { edges { node { id } } } } } } }`
	require.Equal(t, resolvers.CodeQueryTooDeep, h.onlyError(t, viaFragment, nil).Extensions["code"])

	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 6 {
		fmt.Fprintf(&aliases, " a%d: outboxSummary { totalEvents }", i)
	}
	aliases.WriteString(" }")
	require.Equal(t, resolvers.CodeTooManyAliases, h.onlyError(t, aliases.String(), nil).Extensions["code"])

	huge := "{ " + strings.Repeat("outboxSummary { totalEvents } ", 200) + "}"
	_, resp := h.do(t, huge, nil)
	require.NotEmpty(t, resp.Errors, "token limit")

	wide := `{ commitJobs(first: 100) { edges { node { refs(first: 100) { edges { node { id } } } } } } }`
	require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", h.onlyError(t, wide, nil).Extensions["code"], "shallow but wide")

	// A sane dashboard query passes every limit.
	var ok struct{ MemoryRefs struct{ Edges []any } }
	h.data(t, `{ memoryRefs(first: 10) { edges { node { id job { id status } } } } }`, nil, &ok)
}

func TestRateLimitsPerPrincipal(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	limiter := policy.NewLimiter(map[string]policy.Rate{
		gateway.LimitIngest:   {PerSecond: 0.001, Burst: 2},
		gateway.LimitRetrieve: {PerSecond: 0.001, Burst: 1},
	})
	h := newHarness(t, db, strict(), withLimiter(limiter))
	a := gateway.Principal{Name: "a", WorkspaceID: "ws", Role: gateway.RoleAgent, Grants: []gateway.Grant{{Access: gateway.AccessWrite}}}
	b := a
	b.Name = "b"
	for i := range 2 {
		var p ingestPayload
		h.dataAs(t, a, ingestMutation, turnVars(func(in map[string]any) { in["turnId"] = fmt.Sprint(i) }), &p)
	}
	e := h.errorAs(t, &a, ingestMutation, turnVars(func(in map[string]any) { in["turnId"] = "3" }))
	require.Equal(t, resolvers.CodeRateLimited, e.Extensions["code"])
	require.Greater(t, e.Extensions["retryAfterMs"], float64(time.Second.Milliseconds()))
	var p ingestPayload
	h.dataAs(t, b, ingestMutation, turnVars(func(in map[string]any) { in["turnId"] = "4" }), &p) // b has its own bucket

	retrieve := `{ retrieveContext(input: {workspaceId: "ws", userId: "u1", agentId: "a1", query: "colour"}) { items { text } } }`
	var r struct{ RetrieveContext struct{ Items []any } }
	h.dataAs(t, a, retrieve, nil, &r)
	require.Equal(t, resolvers.CodeRateLimited, h.errorAs(t, &a, retrieve, nil).Extensions["code"])
}
