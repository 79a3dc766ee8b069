package resolvers_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// eagerWorkerStore claims a new job's events the moment it is stored, as a
// fast worker in another process may, before the answer is resolved.
type eagerWorkerStore struct {
	gateway.Store
	db *persistence.DB
}

func (s eagerWorkerStore) CreateCommitJob(ctx context.Context, job gateway.CommitJob, events []gateway.OutboxEvent, audit gateway.AuditEntry) (gateway.JobSnapshot, bool, error) {
	stored, created, err := s.Store.CreateCommitJob(ctx, job, events, audit)
	if err == nil {
		now := time.Now()
		_, claimErr := persistence.NewStore(s.db).ClaimOutboxEvents(ctx, gateway.ClaimRequest{
			WorkerID: "eager", Backend: backendtype.BackendLocal, Limit: 10, Now: now.Add(time.Hour), LeaseUntil: now.Add(2 * time.Hour),
		})
		if claimErr != nil {
			return gateway.JobSnapshot{}, false, claimErr
		}
	}
	return stored, created, err
}

// TestCommitSessionAnswersFromOneSnapshot: the job, its outbox summary and
// its events in commitSession's answer agree, even when a worker claims the
// events between the commit and the reading of the answer — for a new job
// and for the replay of one.
func TestCommitSessionAnswersFromOneSnapshot(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withStore(func(s gateway.Store) gateway.Store { return eagerWorkerStore{Store: s, db: db} }))
		const commit = `mutation($s: ID!) { commitSession(input: {workspaceId: "ws", userId: "u1", agentId: "a1", sessionId: $s, namespace: "team"}) {
			created job { status outboxSummary { totalEvents pendingEvents processingEvents } outboxEvents { edges { node { status } } } } } }`
		type answer struct {
			CommitSession struct {
				Created bool
				Job     struct {
					Status        string
					OutboxSummary struct{ TotalEvents, PendingEvents, ProcessingEvents int }
					OutboxEvents  struct {
						Edges []struct{ Node struct{ Status string } }
					}
				}
			}
		}
		var first answer
		h.data(t, commit, map[string]any{"s": "s1"}, &first)
		job := first.CommitSession.Job
		require.True(t, first.CommitSession.Created)
		require.Equal(t, "ACCEPTED", job.Status)
		require.Equal(t, 1, job.OutboxSummary.PendingEvents, "the summary as the job was")
		require.Zero(t, job.OutboxSummary.ProcessingEvents)
		require.Len(t, job.OutboxEvents.Edges, 1)
		require.Equal(t, "PENDING", job.OutboxEvents.Edges[0].Node.Status)

		// The replay reads the job as it is now — RUNNING — with its events
		// as they are now.
		var again answer
		h.data(t, commit, map[string]any{"s": "s1"}, &again)
		job = again.CommitSession.Job
		require.False(t, again.CommitSession.Created)
		require.Equal(t, "RUNNING", job.Status)
		require.Equal(t, 1, job.OutboxSummary.ProcessingEvents)
		require.Equal(t, "PROCESSING", job.OutboxEvents.Edges[0].Node.Status)
	})
}
