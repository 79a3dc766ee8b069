package gateway

import "github.com/memory-gateway/memory-gateway/backendtype"

// MatchingOf is how an adapter matches a query. One that does not say is
// taken to match words: advice to use the memory's own words never hurts a
// semantic search, while a question sent to a word search finds nothing.
func MatchingOf(a backendtype.BackendAdapter) backendtype.Matching {
	if m, ok := a.(backendtype.RecallMatcher); ok {
		return m.Matching()
	}
	return backendtype.MatchWords
}
