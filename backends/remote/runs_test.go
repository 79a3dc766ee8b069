package remote

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

func TestSessionRuns(t *testing.T) {
	t.Parallel()
	turn := func(user, session string) backendtype.TurnWrite {
		return backendtype.TurnWrite{WorkspaceID: "ws", UserID: user, SessionID: session}
	}
	turns := []backendtype.TurnWrite{turn("u1", "s1"), turn("u1", "s1"), turn("u1", "s1"), turn("u2", "s1"), turn("u1", "s2"), turn("u1", "s2")}
	var sizes []int
	for _, run := range SessionRuns(turns, 2) {
		sizes = append(sizes, len(run))
	}
	require.Equal(t, []int{2, 1, 1, 2}, sizes, "at most max, and never across users or sessions")
	require.Empty(t, SessionRuns(nil, 10))
}
