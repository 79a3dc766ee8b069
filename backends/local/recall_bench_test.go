package local_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backends/local/localtest"
	"github.com/memory-gateway/memory-gateway/backendtype"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// Recall-growth settings: benchRecallOthers users of benchRecallOtherTurns
// turns each share the store with the user whose history grows.
const (
	benchRecallOthers     = 4
	benchRecallOtherTurns = 5_000
)

var benchRecallSizes = []int{100, 1_000, 10_000}

// BenchmarkRecallGrowth times one Retrieve of a user whose history grows to
// 100, 1,000 and 10,000 turns beside other users' 20,000, on every store:
// for words as many turns hold at every size ("favourites", which should
// cost about the same at every size) and for a word one turn in 18 holds
// ("common", which costs what its matching turns cost). On PostgreSQL the
// tables are vacuumed and analyzed at each size, as autovacuum would; the
// full-text index is merged, as the server's index merger would.
func BenchmarkRecallGrowth(b *testing.B) {
	for _, d := range pt.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := pt.Open(b, d)
			backend := local.New(db.DB, nil)
			for u := range benchRecallOthers {
				require.NoError(b, localtest.Fill(ctx, backend, fmt.Sprintf("other%d", u), 0, benchRecallOtherTurns))
			}
			filled := 0
			for _, size := range benchRecallSizes {
				require.NoError(b, localtest.Fill(ctx, backend, "me", filled, size))
				filled = size
				if d == pt.Postgres {
					_, err := db.ExecContext(ctx, "VACUUM ANALYZE local_memories")
					require.NoError(b, err)
				}
				_, err := backend.MergeIndex(ctx, math.MaxInt)
				require.NoError(b, err)
				for _, q := range []struct{ name, text string }{{"favourites", localtest.Query}, {"common", localtest.CommonQuery}} {
					query := backendtype.RetrievalQuery{WorkspaceID: localtest.Workspace, UserID: "me", Namespace: localtest.Namespace, Query: q.text, Limit: 10}
					b.Run(fmt.Sprintf("%s/turns=%d", q.name, size), func(b *testing.B) {
						for b.Loop() {
							items, err := backend.Retrieve(ctx, query)
							if err != nil || len(items) == 0 {
								b.Fatalf("retrieve: %d items, %v", len(items), err)
							}
						}
					})
				}
			}
		})
	}
}
