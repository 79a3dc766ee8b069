package persistence_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backends/local/localtest"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestLocalSearchOfExistingMemories: memories the local backend stored
// before its search indexed owners are found by it after the migration, only
// by their owner, and leave the index when removed.
func TestLocalSearchOfExistingMemories(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := persistence.Open(ctx, pt.URL(t, d))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			require.NoError(t, db.MigrateThrough(ctx, "20261207000017"))
			// Stored as the backend of that schema stored them: one row each
			// (the schema's triggers indexed them then).
			mine, theirs := localtest.TurnWrite("me", 9), localtest.TurnWrite("other", 9)
			quoted := localtest.TurnWrite("me", 10)
			quoted.Content = "She re-read “Dune”—twice…\n(finally)"
			for i, w := range []backendtype.TurnWrite{mine, theirs, quoted} {
				_, err := db.NewInsert().Model(&localtest.Row{
					ID: fmt.Sprintf("lm_%d", i), GatewayID: w.GatewayID, WorkspaceID: w.WorkspaceID, UserID: w.UserID,
					AgentID: w.AgentID, SessionID: w.SessionID, Namespace: w.Namespace, TurnID: w.TurnID, Role: string(w.Role),
					Content: w.Content, ContentHash: w.ContentHash, State: "active", CreatedAt: time.Now(), UpdatedAt: time.Now(),
				}).Exec(ctx)
				require.NoError(t, err)
			}

			require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
			b := local.New(db.DB, nil)
			for _, word := range []string{"dune", "twice", "finally"} {
				items, err := b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: localtest.Workspace, UserID: "me", Query: word})
				require.NoError(t, err)
				require.Len(t, items, 1, "%q, a word beside punctuation", word)
			}
			q := backendtype.RetrievalQuery{WorkspaceID: localtest.Workspace, UserID: "me", Query: localtest.Query}
			items, err := b.Retrieve(ctx, q)
			require.NoError(t, err)
			require.Len(t, items, 1)
			require.Equal(t, mine.Content, items[0].Text)

			// A memory stored now is indexed under the same owner.
			later := localtest.TurnWrite("me", 14)
			_, err = b.IngestTurns(ctx, []backendtype.TurnWrite{later})
			require.NoError(t, err)
			items, err = b.Retrieve(ctx, q)
			require.NoError(t, err)
			require.Len(t, items, 2, "the memory stored before the migration and the one after")

			_, err = db.NewDelete().Table("local_memories").Where("id = ?", "lm_0").Exec(ctx)
			require.NoError(t, err)
			items, err = b.Retrieve(ctx, q)
			require.NoError(t, err)
			require.Len(t, items, 1, "a deleted memory leaves the index")
			require.Equal(t, later.Content, items[0].Text)
			q.UserID = "other"
			items, err = b.Retrieve(ctx, q)
			require.NoError(t, err)
			require.Len(t, items, 1, "the other user's memory stays indexed")
		})
	}
}
