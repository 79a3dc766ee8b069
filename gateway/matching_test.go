package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
)

type wordless struct{ gateway.BackendAdapter }

type semantic struct{ gateway.BackendAdapter }

func (semantic) Matching() gateway.Matching { return gateway.MatchMeaning }

func TestMatchingOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, gateway.MatchMeaning, gateway.MatchingOf(semantic{}))
	require.Equal(t, gateway.MatchWords, gateway.MatchingOf(wordless{}), "an adapter that does not say is advised as a word search")
}
