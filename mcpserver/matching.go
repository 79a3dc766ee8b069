package mcpserver

import (
	"strings"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Backend is a configured backend as agents are told about it.
type Backend struct {
	Name backendtype.Backend
	// Matching is what its retrieval compares a query with.
	Matching backendtype.Matching
}

// recallAdvice is what the recall tool, its query argument, the server's
// instructions and the use_memory prompt tell a model about phrasing a
// query: a question sent to a word search finds nothing, so the model must
// know which kind of search it is talking to.
type recallAdvice struct {
	tool   string // appended to recall's description
	query  string // the query argument's description
	prompt string // how step 1 of use_memory says to query
}

// adviceFor computes the advice from how the configured backends match.
func adviceFor(backends []Backend) recallAdvice {
	var words, meaning []string
	for _, b := range backends {
		if b.Matching == backendtype.MatchMeaning {
			meaning = append(meaning, string(b.Name))
		} else {
			words = append(words, string(b.Name))
		}
	}
	switch {
	case len(words) == 0 && len(meaning) == 0:
		// No backend known (a proxy's definitions before its gateway answers).
		return recallAdvice{
			query:  "What you want to know: the user's question or the topic at hand, with the words a memory about it would contain.",
			prompt: "with the user's question and the words a memory about it would contain as the query",
		}
	case len(words) == 0:
		return recallAdvice{
			tool: "The configured backends (" + strings.Join(meaning, ", ") + ") match by meaning: " +
				"a plain question finds memories that answer it in other words.",
			query:  "What you want to know, in plain words: the user's question or the topic at hand. The backends match by meaning.",
			prompt: "with the user's question or the topic at hand as the query (the backends match by meaning)",
		}
	case len(meaning) == 0:
		return recallAdvice{
			tool: "The configured backend (" + strings.Join(words, ", ") + ") matches words, not meaning: a memory is " +
				"found only when it contains a word of the query. Query with the words the memory would hold " +
				`("vegetarian vegan diet food"), not with a question ("what does the user eat?" misses "I'm vegetarian").`,
			query: `Words the memory would contain, e.g. "vegetarian vegan diet food": the backend matches words, not ` +
				"meaning, so a question finds only memories sharing its words.",
			prompt: "with the words a memory about it would contain as the query, synonyms included (the backend matches " +
				`words, not meaning: "vegetarian vegan diet food" finds "I'm vegetarian", "what does the user eat?" does not)`,
		}
	default:
		return recallAdvice{
			tool: strings.Join(meaning, ", ") + " match by meaning; " + strings.Join(words, ", ") + " matches words only. " +
				"Ask in plain words and add the words a memory would hold, so every backend can find it.",
			query: "What you want to know in plain words, plus the words a memory would contain (" +
				strings.Join(meaning, ", ") + " match by meaning, " + strings.Join(words, ", ") + " words only).",
			prompt: "with the user's question plus the words a memory about it would contain as the query (" +
				strings.Join(meaning, ", ") + " match by meaning, " + strings.Join(words, ", ") + " words only)",
		}
	}
}
