package resolvers

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// TestConcrete: values and pointers of the graph's types are named; nil and
// anything else are not (and never loop).
func TestConcrete(t *testing.T) {
	t.Parallel()
	job := gateway.CommitJob{ID: "gwc_1"}
	for _, tc := range []struct {
		v    any
		name string
	}{
		{job, "CommitJob"},
		{&job, "CommitJob"},
		{gateway.ErasureJob{CommitJob: job}, "ErasureJob"},
		{&gateway.ContextItem{}, "ContextItem"},
		{nil, ""},
		{(*gateway.MemoryRef)(nil), ""},
		{"a string", ""},
	} {
		name, obj := concrete(tc.v)
		require.Equal(t, tc.name, name, "%T", tc.v)
		if name != "" {
			require.NotNil(t, obj)
		}
	}
}
