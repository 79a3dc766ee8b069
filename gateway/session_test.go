package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

func TestCommitLabel(t *testing.T) {
	t.Parallel()
	sc := func(agent, ns string) backendtype.SessionScope {
		return backendtype.SessionScope{AgentID: agent, Namespace: ns}
	}
	for _, c := range []struct {
		name      string
		scopes    []backendtype.SessionScope
		agent, ns string
	}{
		{"no turns known: the job's own scope", nil, "job-agent", "job/ns"},
		{"one agent, one namespace", []backendtype.SessionScope{sc("helper", "support/tier1")}, "helper", "support/tier1"},
		{"one agent, sibling namespaces", []backendtype.SessionScope{sc("helper", "support/a"), sc("helper", "support/b")}, "helper", "support"},
		{"two agents belong to neither", []backendtype.SessionScope{sc("helper", "support"), sc("other", "support")}, "", "support"},
		{"disjoint namespaces: the workspace root", []backendtype.SessionScope{sc("helper", "support"), sc("helper", "legal")}, "helper", ""},
	} {
		agent, ns := gateway.CommitLabel(c.scopes, "job-agent", "job/ns")
		require.Equal(t, []string{c.agent, c.ns}, []string{agent, ns}, c.name)
	}
}
