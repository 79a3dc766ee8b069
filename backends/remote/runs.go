package remote

import (
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// SessionRuns splits turns into runs of consecutive turns of one workspace,
// user and session, each at most max long: what one batch call of a backend
// may carry, in order.
func SessionRuns(turns []backendtype.TurnWrite, max int) [][]backendtype.TurnWrite {
	var runs [][]backendtype.TurnWrite
	for start := 0; start < len(turns); {
		end := start + 1
		for end < len(turns) && end-start < max && turns[end].UserID == turns[start].UserID &&
			turns[end].WorkspaceID == turns[start].WorkspaceID && turns[end].SessionID == turns[start].SessionID {
			end++
		}
		runs = append(runs, turns[start:end])
		start = end
	}
	return runs
}
