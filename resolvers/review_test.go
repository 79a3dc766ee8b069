package resolvers_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

const reviewListQuery = `query($f: MemoryFeedbackFilter) { feedback(filter: $f, first: 50) { edges { node {
	id status reviewedBy reviewedAt reviewReason
	reviewTexts { blind comment correction memoryText memoryTextUnavailable } } } } }`

type reviewTexts struct {
	Blind                           bool
	Comment, Correction, MemoryText *string
	MemoryTextUnavailable           *string
}

type reviewNode struct {
	ID, Status               string
	ReviewedBy, ReviewReason *string
	ReviewedAt               *time.Time
	ReviewTexts              *reviewTexts
}

type reviewList struct {
	Feedback struct{ Edges []struct{ Node reviewNode } }
}

func (l reviewList) nodes() []reviewNode {
	out := make([]reviewNode, len(l.Feedback.Edges))
	for i, e := range l.Feedback.Edges {
		out[i] = e.Node
	}
	return out
}

const bulkReview = `mutation($in: ReviewMemoryFeedbacksInput!) { reviewMemoryFeedbacks(input: $in) {
	results { id feedback { id status reviewReason } error { code message field } } } }`

type bulkResult struct {
	ReviewMemoryFeedbacks struct {
		Results []struct {
			ID       string
			Feedback *struct {
				ID, Status   string
				ReviewReason *string
			}
			Error *struct {
				Code, Message string
				Field         *string
			}
		}
	}
}

// reviewWorld: alice's memory in workspace ws with her correction waiting
// for review, and the same in workspace "quiet", which reviews blind.
type reviewWorld struct {
	h                    *harness
	feedback, quietFB    string
	admin, alice, bob    gateway.Principal
	dashboard, quietAdmn gateway.Principal
}

func newReviewWorld(t *testing.T, db *persistence.DB) reviewWorld {
	t.Helper()
	w := reviewWorld{
		h: newHarness(t, db, strict(), withFeedbackPolicy(gateway.FeedbackPolicy{
			Default: gateway.DefaultFeedbackPolicy.Default, BlindReviewWorkspaces: map[string]bool{"quiet": true},
		})),
		admin:     gateway.Principal{Name: "ws-admin", WorkspaceID: "ws", Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)},
		alice:     gateway.Principal{Name: "alice", WorkspaceID: "ws", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)},
		bob:       gateway.Principal{Name: "bob", WorkspaceID: "ws", UserID: "bob", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)},
		dashboard: gateway.Principal{Name: "dash", WorkspaceID: "ws", Role: gateway.RoleDashboard, Grants: grants("", gateway.AccessRead)},
		quietAdmn: gateway.Principal{Name: "quiet-admin", WorkspaceID: "quiet", Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)},
	}
	w.feedback = w.correction(t, "ws", "fb-1")
	w.quietFB = w.correction(t, "quiet", "fb-quiet")
	return w
}

// correction ingests alice's turn in ws and records her correction of it.
func (w reviewWorld) correction(t *testing.T, ws, sourceEvent string) string {
	t.Helper()
	alice := gateway.Principal{Name: "alice-" + ws, WorkspaceID: ws, UserID: "alice", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}
	var ing ingestPayload
	w.h.dataAs(t, alice, ingestMutation, turnVars(func(in map[string]any) {
		in["workspaceId"], in["userId"], in["turnId"] = ws, "alice", sourceEvent
	}), &ing)
	require.Len(t, ing.IngestConversationTurn.Refs, 1)
	vars := feedbackIn(ws, "alice", "a1", "team/alpha", ing.IngestConversationTurn.Refs[0].ID, "CORRECTION", sourceEvent)
	vars["in"].(map[string]any)["comment"] = "it changed last week"
	var fb struct {
		RecordMemoryFeedback struct{ Feedback struct{ ID, Status string } }
	}
	w.h.dataAs(t, alice, feedbackMutation, vars, &fb)
	require.Equal(t, "RECEIVED", fb.RecordMemoryFeedback.Feedback.Status)
	return fb.RecordMemoryFeedback.Feedback.ID
}

func (w reviewWorld) list(t *testing.T, p gateway.Principal, filter map[string]any) []reviewNode {
	t.Helper()
	var out reviewList
	w.h.dataAs(t, p, reviewListQuery, map[string]any{"f": filter}, &out)
	return out.nodes()
}

// TestReviewShowsTheTextsToWhoeverMayDecide: the workspace's admin and the
// memory's own user read the correction and the memory's current text
// (from its backend) on the review list; a DASHBOARD key sees the item but
// no text, another user sees nothing, and a blind workspace shows none.
func TestReviewShowsTheTextsToWhoeverMayDecide(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newReviewWorld(t, db)
		awaiting := map[string]any{"workspaceId": "ws", "decided": false, "feedbackType": "CORRECTION", "userId": "alice"}
		for _, p := range []gateway.Principal{w.admin, w.alice} {
			nodes := w.list(t, p, awaiting)
			require.Len(t, nodes, 1, p.Name)
			texts := nodes[0].ReviewTexts
			require.NotNil(t, texts, p.Name)
			require.False(t, texts.Blind)
			require.Equal(t, "a corrected fact", *texts.Correction, p.Name)
			require.Equal(t, "it changed last week", *texts.Comment, p.Name)
			require.NotNil(t, texts.MemoryText, "%s: %v", p.Name, texts.MemoryTextUnavailable)
			require.Equal(t, "my favourite colour is blue", *texts.MemoryText, p.Name)
		}

		nodes := w.list(t, w.dashboard, awaiting)
		require.Len(t, nodes, 1, "a dashboard sees the item")
		require.Nil(t, nodes[0].ReviewTexts, "and never its text")
		require.Empty(t, w.list(t, w.bob, map[string]any{"workspaceId": "ws"}), "another user sees nothing")
		require.Empty(t, w.list(t, w.admin, map[string]any{"workspaceId": "ws", "userId": "bob"}), "the user filter holds")
		require.Empty(t, w.list(t, w.admin, map[string]any{"workspaceId": "ws", "feedbackType": "HELPFUL"}), "the type filter holds")

		nodes = w.list(t, w.quietAdmn, map[string]any{"workspaceId": "quiet"})
		require.Len(t, nodes, 1)
		require.Equal(t, &reviewTexts{Blind: true}, nodes[0].ReviewTexts, "a blind workspace shows no text")
	})
}

// TestReviewInBulk: one decision on several ids, each checked for scope
// and reported on its own; sending it again decides nothing new, and the
// decided list says who decided, when and why.
func TestReviewInBulk(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newReviewWorld(t, db)
		in := func(decision string, ids ...string) map[string]any {
			return map[string]any{"in": map[string]any{"ids": ids, "decision": decision, "reason": "  not what alice said  "}}
		}

		var bob bulkResult
		w.h.dataAs(t, w.bob, bulkReview, in("REJECT", w.feedback), &bob)
		require.Equal(t, resolvers.CodeNotFound, bob.ReviewMemoryFeedbacks.Results[0].Error.Code, "another user's feedback does not exist for bob")
		var dash bulkResult
		w.h.dataAs(t, w.dashboard, bulkReview, in("REJECT", w.feedback), &dash)
		require.Equal(t, resolvers.CodeForbidden, dash.ReviewMemoryFeedbacks.Results[0].Error.Code, "a dashboard decides nothing")

		for range 2 {
			var out bulkResult
			w.h.dataAs(t, w.admin, bulkReview, in("REJECT", w.feedback, "fb_nope", w.quietFB), &out)
			r := out.ReviewMemoryFeedbacks.Results
			require.Len(t, r, 3)
			require.Equal(t, w.feedback, r[0].ID)
			require.Nil(t, r[0].Error)
			require.Equal(t, "REJECTED", r[0].Feedback.Status)
			require.Equal(t, "not what alice said", *r[0].Feedback.ReviewReason)
			for i, id := range []string{"fb_nope", w.quietFB} {
				require.Equal(t, id, r[i+1].ID)
				require.Nil(t, r[i+1].Feedback)
				require.Equal(t, resolvers.CodeNotFound, r[i+1].Error.Code, id)
				require.Equal(t, []string{"input.ids[1]", "input.ids[2]"}[i], *r[i+1].Error.Field)
			}
		}
		var conflict bulkResult
		w.h.dataAs(t, w.admin, bulkReview, in("ACCEPT", w.feedback), &conflict)
		require.Equal(t, resolvers.CodeConflict, conflict.ReviewMemoryFeedbacks.Results[0].Error.Code, "the other decision is a conflict")

		decided := w.list(t, w.admin, map[string]any{"workspaceId": "ws", "decided": true})
		require.Len(t, decided, 1)
		require.Equal(t, "REJECTED", decided[0].Status)
		require.Equal(t, "ws-admin", *decided[0].ReviewedBy)
		require.NotNil(t, decided[0].ReviewedAt)
		require.Equal(t, "not what alice said", *decided[0].ReviewReason)
		require.Equal(t, "a corrected fact", *decided[0].ReviewTexts.Correction, "what was decided stays readable")
		require.Empty(t, w.list(t, w.admin, map[string]any{"workspaceId": "ws", "decided": false}))

		e := w.h.errorAs(t, &w.admin, bulkReview, in("REJECT"))
		require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"])
		require.Regexp(t, `^(in|input)\.ids$`, e.Extensions["field"])
		tooMany := make([]string, gateway.MaxReviewBatch+1)
		for i := range tooMany {
			tooMany[i] = w.feedback
		}
		e = w.h.errorAs(t, &w.admin, bulkReview, in("REJECT", tooMany...))
		require.Contains(t, []any{resolvers.CodeBadUserInput, "COMPLEXITY_LIMIT_EXCEEDED"}, e.Extensions["code"])
		long := map[string]any{"in": map[string]any{"ids": []string{w.feedback}, "decision": "REJECT", "reason": string(make([]byte, 2000))}}
		e = w.h.errorAs(t, &w.admin, bulkReview, long)
		require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"])
		require.Regexp(t, `^(in|input)\.reason$`, e.Extensions["field"])
	})
}
