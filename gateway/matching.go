package gateway

// Matching is what a backend's retrieval compares a query with, so agents
// can be told how to phrase one.
type Matching string

// How backends match a query.
const (
	// MatchWords: a memory is found when it contains the query's words
	// (full-text search). "What food does the user eat?" misses
	// "I'm vegetarian".
	MatchWords Matching = "words"
	// MatchMeaning: a memory is found when it is about the query (vector
	// or hybrid search), whatever its words.
	MatchMeaning Matching = "meaning"
)

// RecallMatcher is implemented by retrievers that say how they match a
// query.
type RecallMatcher interface {
	Matching() Matching
}

// MatchingOf is how an adapter matches a query. One that does not say is
// taken to match words: advice to use the memory's own words never hurts a
// semantic search, while a question sent to a word search finds nothing.
func MatchingOf(a BackendAdapter) Matching {
	if m, ok := a.(RecallMatcher); ok {
		return m.Matching()
	}
	return MatchWords
}
