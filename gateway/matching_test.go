package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

type wordless struct{ backendtype.BackendAdapter }

type semantic struct{ backendtype.BackendAdapter }

func (semantic) Matching() backendtype.Matching { return backendtype.MatchMeaning }

func TestMatchingOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, backendtype.MatchMeaning, gateway.MatchingOf(semantic{}))
	require.Equal(t, backendtype.MatchWords, gateway.MatchingOf(wordless{}), "an adapter that does not say is advised as a word search")
}
