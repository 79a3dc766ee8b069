package namespace_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/namespace"
)

// CoverCases are the cases both forms of the rule are held to (the store
// suite runs the SQL form on them too).
var CoverCases = []struct {
	prefix, ns string
	covers     bool
}{
	{"", "anything/at/all", true},
	{"billing", "billing", true},
	{"billing", "billing/exec", true},
	{"billing", "billing/exec/deep", true},
	{"billing", "BILLING/exec", false},
	{"billing", "Billing", false},
	{"billing", "billings", false},
	{"billing", "billing-old/x", false},
	{"billing", "bill", false},
	{"billing/exec", "billing", false},
	{"team_a", "teamXa", false},
	{"team%", "team-anything", false},
	{"équipe", "équipe/paris", true},
	{"équipe", "ÉQUIPE/paris", false},
}

func TestCovers(t *testing.T) {
	t.Parallel()
	for _, c := range CoverCases {
		require.Equal(t, c.covers, namespace.Covers(c.prefix, c.ns), "%q covers %q", c.prefix, c.ns)
	}
}

func TestCommon(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"support"}, "support"},
		{[]string{"support/tier1", "support/tier2"}, "support"},
		{[]string{"support/tier1", "support/tier1/x"}, "support/tier1"},
		{[]string{"support", "supporters"}, ""},
		{[]string{"support", "legal"}, ""},
		{[]string{"Support/a", "support/a"}, ""},
	} {
		got := namespace.Common(c.in...)
		require.Equal(t, c.want, got, "%v", c.in)
		for _, ns := range c.in {
			require.True(t, namespace.Covers(got, ns), "the common prefix covers %q", ns)
		}
	}
}
