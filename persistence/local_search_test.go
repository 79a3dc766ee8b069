package persistence_test

import (
	"context"
	"log/slog"
	"testing"

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
			b := local.New(db.DB, nil)
			mine, theirs := localtest.TurnWrite("me", 9), localtest.TurnWrite("other", 9)
			_, err = b.IngestTurns(ctx, []backendtype.TurnWrite{mine})
			require.NoError(t, err)
			_, err = b.IngestTurns(ctx, []backendtype.TurnWrite{theirs})
			require.NoError(t, err)

			require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
			q := backendtype.RetrievalQuery{WorkspaceID: localtest.Workspace, UserID: "me", Query: localtest.Query}
			items, err := b.Retrieve(ctx, q)
			require.NoError(t, err)
			require.Len(t, items, 1)
			require.Equal(t, mine.Content, items[0].Text)

			require.NoError(t, b.RemoveTurn(ctx, mine))
			items, err = b.Retrieve(ctx, q)
			require.NoError(t, err)
			require.Empty(t, items)
			q.UserID = "other"
			items, err = b.Retrieve(ctx, q)
			require.NoError(t, err)
			require.Len(t, items, 1, "the other user's memory stays indexed")
		})
	}
}
