package persistence_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestStoreFeedbackReviews: a review page's texts come in one read (ids
// without text answer nothing), the list splits into awaiting and decided,
// and an erasure of the subject takes the reviewers' reasons with the texts.
func TestStoreFeedbackReviews(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		ref := pt.Ref()
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		save := func(id string, typ backendtype.FeedbackType, content gateway.FeedbackContent) {
			t.Helper()
			fb := gateway.MemoryFeedback{
				ID: id, WorkspaceID: ref.WorkspaceID, UserID: ref.UserID, AgentID: ref.AgentID, Namespace: ref.Namespace,
				MemoryRefID: ref.ID, FeedbackType: typ, Status: gateway.FeedbackReceived,
				HasComment: content.Comment != "", HasCorrection: content.Correction != "",
				CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime,
			}
			_, created, err := store.SaveFeedback(ctx, fb, content, pt.Audit(ref.ID), nil)
			require.NoError(t, err)
			require.True(t, created)
		}
		save("fb_correct", backendtype.FeedbackCorrection, gateway.FeedbackContent{Correction: "the colour is green", Comment: "it changed"})
		save("fb_reject", backendtype.FeedbackCorrection, gateway.FeedbackContent{Correction: "the colour is red"})
		save("fb_plain", backendtype.FeedbackNotHelpful, gateway.FeedbackContent{})

		contents, err := store.FeedbackContents(ctx, []string{"fb_correct", "fb_reject", "fb_plain", "fb_unknown"})
		require.NoError(t, err)
		require.Equal(t, map[string]gateway.FeedbackContent{
			"fb_correct": {Correction: "the colour is green", Comment: "it changed"},
			"fb_reject":  {Correction: "the colour is red"},
		}, contents)
		none, err := store.FeedbackContents(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, none)

		reason := "not what the user said"
		at := pt.BaseTime.Add(time.Minute)
		_, changed, err := store.ReviewFeedback(ctx, gateway.FeedbackReview{
			FeedbackID: "fb_reject", Status: gateway.FeedbackRejected, Reason: &reason, ReviewedBy: ptr("reviewer"), ReviewedAt: at,
			Audit: pt.Audit("fb_reject"),
		})
		require.NoError(t, err)
		require.True(t, changed)

		list := func(decided *bool) []string {
			t.Helper()
			page, err := store.ListFeedback(ctx, gateway.FeedbackFilter{WorkspaceID: ref.WorkspaceID, Decided: decided}, gateway.PageRequest{First: 10})
			require.NoError(t, err)
			var ids []string
			for _, fb := range page.Items {
				ids = append(ids, fb.ID)
			}
			return ids
		}
		require.ElementsMatch(t, []string{"fb_correct", "fb_plain"}, list(new(false)), "awaiting review")
		require.Equal(t, []string{"fb_reject"}, list(new(true)), "decided")
		require.Len(t, list(nil), 3)
		decided, err := store.FeedbackByIDs(ctx, []string{"fb_reject"})
		require.NoError(t, err)
		require.Equal(t, reason, *decided[0].ReviewReason)
		require.Equal(t, "reviewer", *decided[0].ReviewedBy)
		require.True(t, at.Equal(*decided[0].ReviewedAt))

		job := gateway.CommitJob{
			ID: "gwc_erase", WorkspaceID: ref.WorkspaceID, UserID: ref.UserID, AgentID: ref.AgentID, SessionID: "erasure",
			Kind: gateway.JobKindErasure, Status: gateway.JobAccepted, CreatedAt: at, UpdatedAt: at,
		}
		_, created, err := store.CreateErasure(ctx, gateway.ErasureRequest{
			ID: "er_1", WorkspaceID: ref.WorkspaceID, UserID: ref.UserID, RequestedBy: "admin", JobID: job.ID, CreatedAt: at,
		}, job, nil, pt.Audit("er_1"))
		require.NoError(t, err)
		require.True(t, created)
		contents, err = store.FeedbackContents(ctx, []string{"fb_correct", "fb_reject"})
		require.NoError(t, err)
		require.Empty(t, contents, "the subject's texts are gone")
		decided, err = store.FeedbackByIDs(ctx, []string{"fb_reject"})
		require.NoError(t, err)
		require.Nil(t, decided[0].ReviewReason, "and so is the reason written about them")
		require.Equal(t, "reviewer", *decided[0].ReviewedBy, "who decided, and when, stay")
		require.Equal(t, gateway.FeedbackRejected, decided[0].Status, fmt.Sprint(decided[0]))
	})
}
