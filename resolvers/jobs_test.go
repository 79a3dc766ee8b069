package resolvers_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// brokenBackend fails every commit for good.
type brokenBackend struct{}

func (brokenBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (brokenBackend) CommitSession(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
	return backendtype.CommitResult{}, errors.New("the backend refused the session")
}

// TestJobsOfEveryKind: jobs lists commits, feedback routing and erasures,
// each as its own type with its kind, and filters by kind; commitJobs keeps
// listing commits and feedback routing only; outbox events filter by error
// code; outboxSummaries counts per backend.
func TestJobsOfEveryKind(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withBackends(local.New(db.DB, nil), brokenBackend{}), withServiceConfig(gateway.Config{MaxAttempts: 1}))
		var ignored any
		h.data(t, ingestMutation, turnVars(), &ignored)
		h.data(t, `mutation { commitSession(input: {workspaceId: "ws", userId: "u1", agentId: "a1", sessionId: "s1", namespace: "team/alpha"}) { job { id } } }`, nil, &ignored)
		h.data(t, `mutation { processOutbox { processedCount } }`, nil, &ignored)
		var refs struct {
			MemoryRefs struct {
				Edges []struct {
					Node struct{ ID, Backend, RefType string }
				}
			}
		}
		h.data(t, `{ memoryRefs(filter: {workspaceId: "ws", sessionId: "s1", backend: LOCAL, refType: LONG_TERM_MEMORY}) { edges { node { id backend refType } } } }`, nil, &refs)
		require.NotEmpty(t, refs.MemoryRefs.Edges)
		var fb struct {
			RecordMemoryFeedback struct{ Feedback struct{ ID string } }
		}
		h.data(t, `mutation($ref: ID!) { recordMemoryFeedback(input: {workspaceId: "ws", userId: "u1", agentId: "a1", namespace: "team/alpha",
			memoryRefId: $ref, feedbackType: DELETE_REQUEST, sourceEventId: "del-1"}) { feedback { id } } }`, map[string]any{"ref": refs.MemoryRefs.Edges[0].Node.ID}, &fb)
		h.data(t, `mutation($id: ID!) { reviewMemoryFeedback(input: {id: $id, decision: ACCEPT}) { feedback { status } } }`, map[string]any{"id": fb.RecordMemoryFeedback.Feedback.ID}, &ignored)
		h.data(t, `mutation { eraseSubject(input: {workspaceId: "ws", userId: "u2", reason: "asked"}) { request { id } } }`, nil, &ignored)

		type jobsPage struct {
			Jobs struct {
				Edges []struct {
					Node struct {
						Typename string `json:"__typename"`
						ID, Kind string
					}
				}
			}
		}
		kinds := func(filter string) map[string]string {
			var out jobsPage
			h.data(t, `{ jobs`+filter+` { edges { node { __typename id kind } } } }`, nil, &out)
			got := map[string]string{}
			for _, e := range out.Jobs.Edges {
				got[e.Node.Kind] = e.Node.Typename
			}
			return got
		}
		require.Equal(t, map[string]string{"COMMIT": "CommitJob", "FEEDBACK_ROUTING": "CommitJob", "ERASURE": "ErasureJob"}, kinds(""))
		require.Equal(t, map[string]string{"FEEDBACK_ROUTING": "CommitJob"}, kinds(`(filter: {kind: FEEDBACK_ROUTING})`))
		require.Equal(t, map[string]string{"ERASURE": "ErasureJob"}, kinds(`(filter: {kind: ERASURE})`))
		require.Equal(t, map[string]string{"COMMIT": "CommitJob"}, kinds(`(filter: {kind: COMMIT, workspaceId: "ws", sessionId: "s1"})`))
		require.Empty(t, kinds(`(filter: {kind: COMMIT, status: ACCEPTED})`))

		var commitJobs struct {
			CommitJobs struct {
				Edges []struct{ Node struct{ Kind string } }
			}
		}
		h.data(t, `{ commitJobs { edges { node { kind } } } }`, nil, &commitJobs)
		require.Len(t, commitJobs.CommitJobs.Edges, 2, "commits and feedback routing; erasures are not CommitJobs")

		var dead struct {
			OutboxEvents struct {
				Edges []struct {
					Node struct{ ID, LastErrorCode string }
				}
			}
		}
		h.data(t, `{ outboxEvents(filter: {status: DEAD_LETTER}) { edges { node { id lastErrorCode } } } }`, nil, &dead)
		require.Len(t, dead.OutboxEvents.Edges, 1)
		code := dead.OutboxEvents.Edges[0].Node.LastErrorCode
		require.NotEmpty(t, code)
		var byCode struct {
			OutboxEvents struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		h.data(t, `query($code: String) { outboxEvents(filter: {errorCode: $code}) { edges { node { id } } } }`, map[string]any{"code": code}, &byCode)
		require.Len(t, byCode.OutboxEvents.Edges, 1)
		h.data(t, `{ outboxEvents(filter: {errorCode: "no_such_code"}) { edges { node { id } } } }`, nil, &byCode)
		require.Empty(t, byCode.OutboxEvents.Edges)

		var sums struct {
			OutboxSummaries []struct {
				Backend string
				Summary struct{ TotalEvents, DeadLetterEvents int }
			}
		}
		h.data(t, `{ outboxSummaries(workspaceId: "ws") { backend summary { totalEvents deadLetterEvents } } }`, nil, &sums)
		require.Len(t, sums.OutboxSummaries, 2)
		perBackend := map[string][2]int{}
		for _, s := range sums.OutboxSummaries {
			perBackend[s.Backend] = [2]int{s.Summary.TotalEvents, s.Summary.DeadLetterEvents}
		}
		require.Equal(t, 1, perBackend["EVERMEMOS"][1], "the broken backend's dead letter")
		require.Zero(t, perBackend["LOCAL"][1])
	})
}
