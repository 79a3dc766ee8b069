package remote_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/remote"
)

func TestScopedUserIDIsUniquePerWorkspace(t *testing.T) {
	t.Parallel()
	require.Equal(t, "acme:alice", remote.Identify("acme", "alice").ScopedUserID(), "ordinary ids stay readable")
	pairs := [][2]string{
		{"acme", "alice"}, {"globex", "alice"}, {"acme", "bob"},
		{"a:b", "c"}, {"a", "b:c"}, {"a%3Ab", "c"}, {"a", "b/c"}, {"a/b", "c"}, {"ws", "al ice"}, {"ws", "al+ice"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		id := remote.Identify(p[0], p[1]).ScopedUserID()
		prev, dup := seen[id]
		require.False(t, dup, "%v and %v share %q", prev, p, id)
		seen[id] = p
	}
}
