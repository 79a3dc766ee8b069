package openviking_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/gateway"
)

const (
	writePath  = "/api/v1/content/write"
	deletePath = "/api/v1/fs"
)

// committed ingests and commits a session of two user turns and returns the
// refs the commit produced: the archive, then one per memory.
func committed(t *testing.T, b *openviking.Backend) []gateway.ProducedRef {
	t.Helper()
	ctx := context.Background()
	for i, text := range []string{"my favourite colour is blue", "I work nights"} {
		_, err := b.IngestTurn(ctx, turn([]string{"t1", "t2"}[i], gateway.RoleUser, text))
		require.NoError(t, err)
	}
	res, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	for res.Status == gateway.ResultPending {
		res, err = b.CommitSession(ctx, commitReq(res.State))
		require.NoError(t, err)
	}
	require.Equal(t, gateway.ResultSuccess, res.Status)
	require.Len(t, res.Refs, 3)
	return res.Refs
}

func feedbackReq(kind gateway.FeedbackType, ref gateway.ProducedRef, correction string) gateway.FeedbackRequest {
	return gateway.FeedbackRequest{
		EventID: "outbox_fb_1", FeedbackID: "fb_1", FeedbackType: kind, WorkspaceID: "acme", UserID: "alice",
		AgentID: "helper", SessionID: "s1", RefType: ref.RefType, NativeID: ref.NativeID, NativeURI: ref.NativeURI,
		Correction: correction, Attempt: 1,
	}
}

func applyFeedback(t *testing.T, b *openviking.Backend, req gateway.FeedbackRequest) gateway.CommitResult {
	t.Helper()
	res, err := b.ApplyFeedback(context.Background(), req)
	require.NoError(t, err)
	return res
}

// retrieved is what a retrieval of alice's favourite colour returns.
func retrieved(t *testing.T, b *openviking.Backend) []string {
	t.Helper()
	items, err := b.Retrieve(context.Background(), gateway.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour", Limit: 10})
	require.NoError(t, err)
	var texts []string
	for _, it := range items {
		texts = append(texts, it.Text)
	}
	return texts
}

func abstracts(fake *openvikingtest.Server) map[string]string {
	out := map[string]string{}
	for _, m := range fake.Memories("acme", "alice") {
		out[m.URI] = m.Abstract
	}
	return out
}

func TestFeedbackCorrectionRewritesTheMemoryFile(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	memory := refs[1]
	req := feedbackReq(gateway.FeedbackCorrection, memory, "my favourite colour is green")

	for attempt := 1; attempt <= 2; attempt++ { // the repeat is a retry after a lost lease
		res := applyFeedback(t, b, req)
		require.Equal(t, gateway.ResultSuccess, res.Status, "attempt %d", attempt)
		require.Equal(t, memory.NativeURI, res.NativeURI, "rewritten in place: same file")
		require.Empty(t, res.NativeID)
		require.Equal(t, gateway.RefTypePreference, res.RefType)
		require.Equal(t, "my favourite colour is green", abstracts(fake)[memory.NativeURI])
		require.Equal(t, "I work nights", abstracts(fake)[refs[2].NativeURI], "the other memory is untouched")
		require.Equal(t, []string{"my favourite colour is green"}, retrieved(t, b))
		require.Equal(t, attempt, fake.Faults.Count(http.MethodPost, writePath))
	}

	// Without a ref type the memory's category decides.
	req.RefType = ""
	require.Equal(t, gateway.RefTypePreference, applyFeedback(t, b, req).RefType)
}

func TestFeedbackDeleteRemovesTheMemoryFile(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	req := feedbackReq(gateway.FeedbackDeleteRequest, refs[1], "")

	res := applyFeedback(t, b, req)
	require.Equal(t, gateway.ResultSuccess, res.Status)
	require.Equal(t, "deleted", res.Response["status"])
	require.NotContains(t, abstracts(fake), refs[1].NativeURI)
	require.Contains(t, abstracts(fake), refs[2].NativeURI)
	require.Empty(t, retrieved(t, b))

	again := applyFeedback(t, b, req)
	require.Equal(t, gateway.ResultSuccess, again.Status, "a file already gone counts as deleted")
	require.Equal(t, "already_deleted", again.Response["status"])
	require.Equal(t, 2, fake.Faults.Count(http.MethodDelete, deletePath))

	correct := applyFeedback(t, b, feedbackReq(gateway.FeedbackCorrection, refs[1], "my favourite colour is green"))
	require.Equal(t, gateway.ResultSkipped, correct.Status, "a deleted memory is not resurrected")
	require.Equal(t, openviking.ReasonMemoryNotFound, correct.Response["reason"])
	require.Empty(t, retrieved(t, b))
}

func TestFeedbackFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		kind      gateway.FeedbackType
		status    int
		body      string
		code      string
		retryable bool
	}{
		{"correction, unavailable", gateway.FeedbackCorrection, http.StatusServiceUnavailable,
			`{"status":"error","error":{"code":"UNAVAILABLE","message":"warming up"}}`, "UNAVAILABLE", true},
		{"delete, unavailable", gateway.FeedbackDeleteRequest, http.StatusServiceUnavailable,
			`{"status":"error","error":{"code":"UNAVAILABLE","message":"warming up"}}`, "UNAVAILABLE", true},
		{"correction, refused", gateway.FeedbackCorrection, http.StatusForbidden,
			`{"status":"error","error":{"code":"PERMISSION_DENIED","message":"my favourite colour is green: read only"}}`, "PERMISSION_DENIED", false},
		{"delete, invalid", gateway.FeedbackDeleteRequest, http.StatusBadRequest,
			`{"status":"error","error":{"code":"INVALID_URI","message":"bad uri"}}`, "INVALID_URI", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, fake, _ := setup(t)
			refs := committed(t, b)
			req := feedbackReq(tt.kind, refs[1], "")
			if tt.kind == gateway.FeedbackCorrection {
				req.Correction = "my favourite colour is green"
			}
			before := abstracts(fake)

			fake.Faults.FailNext(1, tt.status, tt.body)
			res := applyFeedback(t, b, req)
			require.Equal(t, gateway.ResultFailed, res.Status)
			require.Equal(t, tt.code, res.ErrorCode)
			require.Equal(t, tt.retryable, res.Retryable)
			require.NotContains(t, res.ErrorMessage, "green", "a backend echoing the correction never reaches the control plane")
			require.Equal(t, before, abstracts(fake), "a failed attempt changed nothing")

			// The worker retries a retryable failure; the fault has passed.
			retry := applyFeedback(t, b, req)
			require.Equal(t, gateway.ResultSuccess, retry.Status)
			if tt.kind == gateway.FeedbackCorrection {
				require.Equal(t, []string{"my favourite colour is green"}, retrieved(t, b))
			} else {
				require.Empty(t, retrieved(t, b))
			}
		})
	}
}

func TestFeedbackSkips(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	ingest, err := b.IngestTurn(context.Background(), turn("t3", gateway.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	ingestRef := gateway.ProducedRef{RefType: gateway.RefTypeSessionArchive, NativeID: ingest.NativeID, NativeURI: ingest.NativeURI}
	tests := []struct {
		name      string
		req       gateway.FeedbackRequest
		status    gateway.ResultStatus
		reason    string
		errorCode string
	}{
		{"correction of an ingest ref", feedbackReq(gateway.FeedbackCorrection, ingestRef, "green"), gateway.ResultSkipped, openviking.ReasonNoMemoryURI, ""},
		{"delete of an ingest ref", feedbackReq(gateway.FeedbackDeleteRequest, ingestRef, ""), gateway.ResultSkipped, openviking.ReasonNoMemoryURI, ""},
		{"correction of the archive", feedbackReq(gateway.FeedbackCorrection, refs[0], "green"), gateway.ResultSkipped, openviking.ReasonNoMemoryURI, ""},
		{"delete of the archive", feedbackReq(gateway.FeedbackDeleteRequest, refs[0], ""), gateway.ResultSkipped, openviking.ReasonNoMemoryURI, ""},
		{"a ref without uri", feedbackReq(gateway.FeedbackDeleteRequest, gateway.ProducedRef{RefType: gateway.RefTypePreference}, ""), gateway.ResultSkipped, openviking.ReasonNoMemoryURI, ""},
		{"the memories directory", feedbackReq(gateway.FeedbackDeleteRequest, gateway.ProducedRef{NativeURI: "viking://user/alice/memories/"}, ""), gateway.ResultSkipped, openviking.ReasonNoMemoryURI, ""},
		{"helpful", feedbackReq(gateway.FeedbackHelpful, refs[1], ""), gateway.ResultSkipped, openviking.ReasonUnsupportedFeedbackType, ""},
		{"not helpful", feedbackReq(gateway.FeedbackNotHelpful, refs[1], ""), gateway.ResultSkipped, openviking.ReasonUnsupportedFeedbackType, ""},
		{"a correction without text", feedbackReq(gateway.FeedbackCorrection, refs[1], ""), gateway.ResultFailed, "", openviking.ErrorCodeEmptyCorrection},
	}
	for _, tt := range tests {
		res := applyFeedback(t, b, tt.req)
		require.Equal(t, tt.status, res.Status, tt.name)
		if tt.reason != "" {
			require.Equal(t, tt.reason, res.Response["reason"], tt.name)
		}
		require.Equal(t, tt.errorCode, res.ErrorCode, tt.name)
		require.False(t, res.Retryable, tt.name)
	}
	require.Zero(t, fake.Faults.Count(http.MethodPost, writePath)+fake.Faults.Count(http.MethodDelete, deletePath), "nothing was sent")
	require.Len(t, fake.Messages("acme", "alice", "s1"), 3, "the session is untouched")
	require.True(t, strings.HasSuffix(refs[1].NativeURI, ".md"))
	require.Equal(t, "my favourite colour is blue", abstracts(fake)[refs[1].NativeURI])
}
