package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// The store suite: every test runs on SQLite and, when TEST_DATABASE_URL is
// set, on PostgreSQL.

func TestStoreSaveIngest(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		hash := "hash-a"
		ref := pt.Ref(func(r *gateway.MemoryRef) { r.ContentHash = &hash })

		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		got, err := store.RefsByGatewayID(ctx, ref.GatewayID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, ref.CreatedAt, got[0].CreatedAt)
		require.Equal(t, true, got[0].Metadata["fixture"])

		t.Run("upsert keeps created_at and updates the rest", func(t *testing.T) {
			again := ref
			again.CreatedAt = ref.CreatedAt.Add(time.Hour)
			again.UpdatedAt = ref.UpdatedAt.Add(time.Hour)
			again.NativeID = ptr("native-1")
			require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{again}, pt.Audit(ref.ID)))
			got, err := store.RefsByGatewayID(ctx, ref.GatewayID)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, ref.CreatedAt, got[0].CreatedAt, "created_at is kept")
			require.Equal(t, again.UpdatedAt, got[0].UpdatedAt)
			require.Equal(t, "native-1", *got[0].NativeID)
		})

		t.Run("a success is never downgraded", func(t *testing.T) {
			failed := ref
			failed.Status = gateway.RefStatusFailed
			failed.ErrorMessage = ptr("boom")
			require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{failed}, pt.Audit(ref.ID)))
			got, err := store.RefsByGatewayID(ctx, ref.GatewayID)
			require.NoError(t, err)
			require.Equal(t, gateway.RefStatusSuccess, got[0].Status)
			require.Nil(t, got[0].ErrorMessage)
		})

		t.Run("other content under the same gateway id conflicts", func(t *testing.T) {
			other := ref
			other.ContentHash = ptr("hash-b")
			err := store.SaveIngest(ctx, []gateway.MemoryRef{other}, pt.Audit(ref.ID))
			require.ErrorIs(t, err, gateway.ErrConflict)
		})

		t.Run("another user's turn under the same gateway id is out of scope, and nothing of it is written", func(t *testing.T) {
			other := ref
			other.ID, other.UserID = "ref_other_user", "someone-else"
			err := store.SaveIngest(ctx, []gateway.MemoryRef{other}, pt.Audit("target-refused"))
			require.ErrorIs(t, err, gateway.ErrOutOfScope)
			page, err := store.ListAuditEntries(ctx, gateway.AuditFilter{TargetID: "target-refused"}, gateway.PageRequest{First: 10})
			require.NoError(t, err)
			require.Empty(t, page.Items)
		})

		t.Run("an audit id is recorded once", func(t *testing.T) {
			audit := pt.Audit("target-once")
			require.NoError(t, store.SaveIngest(ctx, nil, audit))
			require.NoError(t, store.SaveIngest(ctx, nil, audit))
			page, err := store.ListAuditEntries(ctx, gateway.AuditFilter{TargetID: "target-once"}, gateway.PageRequest{First: 10})
			require.NoError(t, err)
			require.Len(t, page.Items, 1)
		})
	})
}

func TestStoreIngestBasis(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		ref := pt.Ref()

		refs, erasing, err := store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
		require.NoError(t, err)
		require.Empty(t, refs, "nothing recorded yet")
		require.False(t, erasing)

		other := ref
		other.ID, other.Backend = "ref_second", backendtype.BackendOpenViking
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref, other}, pt.Audit(ref.ID)))
		want, err := store.RefsByGatewayID(ctx, ref.GatewayID)
		require.NoError(t, err)
		refs, erasing, err = store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
		require.NoError(t, err)
		require.Equal(t, want, refs, "the same refs, in the same order, as RefsByGatewayID")
		require.False(t, erasing)

		startErasure(t, store, ref, ref.UserID, gateway.JobAccepted)
		refs, erasing, err = store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
		require.NoError(t, err)
		require.Len(t, refs, 2)
		require.True(t, erasing, "an erasure of the user is under way")
		_, erasing, err = store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, "someone-else")
		require.NoError(t, err)
		require.False(t, erasing, "another user's erasure is not this one's")
	})
}

// The ingest's statements run prepared on PostgreSQL: a later release's
// migration that adds a column to memory_refs while this process runs (a
// rolling upgrade) changes neither what they return nor whether they run.
func TestIngestStatementsSurviveAnAddedColumn(t *testing.T) {
	t.Parallel()
	pt.PostgresURL(t)
	ctx := context.Background()
	db := pt.Open(t, pt.Postgres)
	store := persistence.NewStore(db)
	ingest := func(ref gateway.MemoryRef) []gateway.MemoryRef {
		t.Helper()
		_, _, err := store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
		require.NoError(t, err)
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		refs, erasing, err := store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
		require.NoError(t, err)
		require.False(t, erasing)
		return refs
	}
	// More than five runs, so PostgreSQL may have settled on a generic plan.
	for range 7 {
		require.Len(t, ingest(pt.Ref()), 1)
	}
	_, err := db.ExecContext(ctx, "ALTER TABLE memory_refs ADD COLUMN later_release text")
	require.NoError(t, err)
	ref := pt.Ref()
	refs := ingest(ref)
	require.Len(t, refs, 1)
	want, err := store.RefsByGatewayID(ctx, ref.GatewayID)
	require.NoError(t, err)
	require.Equal(t, want, refs)
}

// With prepared statements off (DATABASE_PREPARED_STATEMENTS=false, for a
// pooler that cannot keep them), the ingest's, the retrieval's and the
// worker's statements run as text with the same results, and nothing is prepared.
func TestStatementsRunAsTextWhenNotPrepared(t *testing.T) {
	t.Parallel()
	pt.PostgresURL(t)
	ctx := context.Background()
	db := pt.Open(t, pt.Postgres)
	db.UsePreparedStatements(false)
	db.DB.DB.SetMaxOpenConns(1) // one session, whose prepared statements are read below
	store := persistence.NewStore(db)

	ref := pt.Ref(func(r *gateway.MemoryRef) { r.Metadata = gateway.Metadata{"note": `it's "quoted" \ and $1`} })
	refs, erasing, err := store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
	require.NoError(t, err)
	require.Empty(t, refs)
	require.False(t, erasing)
	require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
	refs, _, err = store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
	require.NoError(t, err)
	require.Len(t, refs, 1)
	require.Equal(t, ref.Metadata, refs[0].Metadata)
	byID, err := store.RefsByGatewayIDs(ctx, []string{ref.GatewayID})
	require.NoError(t, err)
	require.Equal(t, refs, byID[ref.GatewayID])
	linked := pt.Ref(func(r *gateway.MemoryRef) { r.NativeID = ptr("it's") })
	require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{linked}, pt.Audit(linked.ID)))
	byNative, err := store.RefsByNative(ctx, linked.WorkspaceID, linked.Backend, []string{"it's"}, nil)
	require.NoError(t, err)
	require.Len(t, byNative, 1)
	require.Equal(t, linked.ID, byNative[0].ID)

	completion, now := claimOneEvent(t, store)
	completeToSuccess(t, store, completion, now)

	var prepared int
	require.NoError(t, db.NewRaw("SELECT count(*) FROM pg_prepared_statements").Scan(ctx, &prepared))
	require.Zero(t, prepared)
	db.UsePreparedStatements(true)
	_, _, err = store.IngestBasis(ctx, ref.GatewayID, ref.WorkspaceID, ref.UserID)
	require.NoError(t, err)
	require.NoError(t, db.NewRaw("SELECT count(*) FROM pg_prepared_statements").Scan(ctx, &prepared))
	require.Equal(t, 1, prepared, "the count can see a prepared statement")
}

// startErasure records an erasure of userID (in ref's workspace) whose job
// is in status.
func startErasure(t *testing.T, store *persistence.Store, ref gateway.MemoryRef, userID string, status gateway.JobStatus) {
	t.Helper()
	at := ref.CreatedAt
	job := gateway.CommitJob{
		ID: "gwc_erase", WorkspaceID: ref.WorkspaceID, UserID: userID, AgentID: ref.AgentID, SessionID: "erasure",
		Kind: gateway.JobKindErasure, Status: status, CreatedAt: at, UpdatedAt: at,
	}
	_, _, err := store.CreateErasure(context.Background(), gateway.ErasureRequest{
		ID: "er_1", WorkspaceID: ref.WorkspaceID, UserID: userID, RequestedBy: "admin", JobID: job.ID, CreatedAt: at,
	}, job, nil, pt.Audit("er_1"))
	require.NoError(t, err)
}

// Turns read together (one statement on PostgreSQL) each get their own
// answer: their refs in order, none, and their own user's erasure.
func TestStoreIngestBasisOfConcurrentTurns(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		held := pt.Ref()
		second := held
		second.ID, second.Backend = "ref_second", backendtype.BackendOpenViking
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{second, held}, pt.Audit(held.ID)))
		want, err := store.RefsByGatewayID(ctx, held.GatewayID)
		require.NoError(t, err)
		require.Len(t, want, 2)
		startErasure(t, store, held, "erased", gateway.JobRunning)

		type turn struct {
			key     [3]string
			refs    []gateway.MemoryRef
			erasing bool
		}
		turns := []turn{
			{key: [3]string{held.GatewayID, held.WorkspaceID, held.UserID}, refs: want},
			{key: [3]string{"gw_none", held.WorkspaceID, held.UserID}},
			{key: [3]string{"gw_erased", held.WorkspaceID, "erased"}, erasing: true},
			{key: [3]string{"gw_other_workspace", "elsewhere", "erased"}},
			{key: [3]string{held.GatewayID, held.WorkspaceID, held.UserID}, refs: want},
		}
		// check asserts (it runs on the readers' goroutines too).
		check := func(t *testing.T, tr turn, refs []gateway.MemoryRef, erasing bool) {
			t.Helper()
			if len(tr.refs) == 0 {
				assert.Empty(t, refs, "turn %v", tr.key)
			} else {
				assert.Equal(t, tr.refs, refs, "turn %v", tr.key)
			}
			assert.Equal(t, tr.erasing, erasing, "turn %v", tr.key)
		}
		var wg sync.WaitGroup
		for i := range 40 {
			tr := turns[i%len(turns)]
			wg.Go(func() {
				refs, erasing, err := store.IngestBasis(ctx, tr.key[0], tr.key[1], tr.key[2])
				if assert.NoError(t, err) {
					check(t, tr, refs, erasing)
				}
			})
		}
		wg.Wait()
		if !db.BatchesReads() {
			return
		}
		keys := make([][3]string, len(turns))
		for i, tr := range turns {
			keys[i] = tr.key
		}
		refs, erasing, err := store.IngestBasesAtOnce(ctx, keys...)
		require.NoError(t, err)
		require.Len(t, refs, len(turns))
		for i, tr := range turns {
			check(t, tr, refs[i], erasing[i])
		}
	})
}

func TestStoreSaveIngestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		ref := pt.Ref()
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				errs <- store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID, func(a *gateway.AuditEntry) { a.ID = "audit_same" }))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := store.RefsByGatewayID(ctx, ref.GatewayID)
		require.NoError(t, err)
		require.Len(t, got, 1)
	})
}

// Concurrent ingests may share one write (group commit): one whose basis
// check fails fails alone, and the others land whole.
func TestStoreSaveIngestConflictAmongConcurrentWrites(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		hash, otherHash := "hash-a", "hash-b"
		taken := pt.Ref(func(r *gateway.MemoryRef) { r.ID, r.GatewayID, r.ContentHash = "ref_taken", "gw_taken", &hash })
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{taken}, pt.Audit(taken.ID)))

		const writes = 12
		errs := make([]error, writes)
		var wg sync.WaitGroup
		for i := range writes {
			wg.Go(func() {
				ref := pt.Ref(func(r *gateway.MemoryRef) {
					r.ID, r.GatewayID, r.ContentHash = fmt.Sprintf("ref_%d", i), fmt.Sprintf("gw_%d", i), &hash
				})
				if i == 0 { // other content under the taken gateway id
					ref.ID, ref.GatewayID, ref.ContentHash = "ref_taken_again", taken.GatewayID, &otherHash
				}
				errs[i] = store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(fmt.Sprintf("target_%d", i)))
			})
		}
		wg.Wait()
		require.ErrorIs(t, errs[0], gateway.ErrConflict)
		for i := 1; i < writes; i++ {
			require.NoError(t, errs[i], "write %d", i)
			got, err := store.RefsByGatewayID(ctx, fmt.Sprintf("gw_%d", i))
			require.NoError(t, err)
			require.Len(t, got, 1)
		}
		for i := range writes {
			page, err := store.ListAuditEntries(ctx, gateway.AuditFilter{TargetID: fmt.Sprintf("target_%d", i)}, gateway.PageRequest{First: 10})
			require.NoError(t, err)
			require.Len(t, page.Items, map[bool]int{true: 0, false: 1}[i == 0], "audit of write %d", i)
		}
		got, err := store.RefsByGatewayID(ctx, taken.GatewayID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, hash, *got[0].ContentHash)
	})
}

func TestStoreCreateCommitJob(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		job := pt.Job()
		events := []gateway.OutboxEvent{pt.Event(job, backendtype.BackendLocal), pt.Event(job, backendtype.BackendOpenViking)}

		stored, created, err := store.CreateCommitJob(ctx, job, events, pt.Audit(job.ID))
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, job.ID, stored.Job.ID)
		require.Len(t, stored.Events, 2)

		// The same id again: nothing new, the stored job comes back.
		changed := job
		changed.Status = gateway.JobRunning
		stored, created, err = store.CreateCommitJob(ctx, changed, events, pt.Audit(job.ID))
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, gateway.JobAccepted, stored.Job.Status)
		require.Len(t, stored.Events, 2, "the stored events come back with the stored job")
		require.Equal(t, gateway.OutboxSummary{TotalEvents: 2, PendingEvents: 2}, stored.Summary())

		page, err := store.ListOutboxEvents(ctx, gateway.EventFilter{JobID: job.ID}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, page.Items, 2)
		for _, e := range page.Items {
			require.Equal(t, gateway.OutboxPending, e.Status)
			require.Equal(t, job.ID, *e.JobID)
		}
		sums, err := store.OutboxSummaries(ctx, []string{job.ID, "gwc_unknown"})
		require.NoError(t, err)
		require.Equal(t, gateway.OutboxSummary{TotalEvents: 2, PendingEvents: 2}, sums[job.ID])
		require.Equal(t, gateway.OutboxSummary{}, sums["gwc_unknown"])
	})
}

// The database itself keeps the rule the completion fence relies on: an
// event has a lease holder exactly while it is PROCESSING.
func TestStoreOutboxLeaseHolderRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		claimed bool // claim the event first
		update  string
	}{
		{"processing without a holder", false, "UPDATE outbox_events SET status = 'processing'"},
		{"a holder while pending", false, "UPDATE outbox_events SET locked_by = 'w'"},
		{"finished but still held", true, "UPDATE outbox_events SET status = 'success'"},
		{"processing but let go", true, "UPDATE outbox_events SET locked_by = NULL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
				ctx := context.Background()
				store := persistence.NewStore(db)
				job := pt.Job()
				_, _, err := store.CreateCommitJob(ctx, job, []gateway.OutboxEvent{pt.Event(job, backendtype.BackendLocal)}, pt.Audit(job.ID))
				require.NoError(t, err)
				if tc.claimed {
					now := time.Now().UTC()
					batch, err := store.ClaimOutboxEvents(ctx, gateway.ClaimRequest{
						WorkerID: "w", Backend: backendtype.BackendLocal, Limit: 1, Now: now, LeaseUntil: now.Add(time.Minute),
					})
					require.NoError(t, err)
					require.Len(t, batch.Events, 1)
				}
				_, err = db.ExecContext(ctx, tc.update)
				require.ErrorContains(t, err, "outbox_events_lease_holder")
			})
		})
	}
}

func TestStoreOutboxDepth(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		depth, err := store.OutboxDepth(ctx)
		require.NoError(t, err)
		require.Empty(t, depth, "an empty outbox has no depth")

		status := func(s gateway.OutboxStatus) func(*gateway.OutboxEvent) {
			return func(e *gateway.OutboxEvent) {
				e.Status = s
				if s == gateway.OutboxProcessing {
					holder := "w"
					e.LockedBy = &holder
				}
			}
		}
		for i, c := range []struct {
			backend backendtype.Backend
			status  gateway.OutboxStatus
		}{
			{backendtype.BackendLocal, gateway.OutboxPending}, {backendtype.BackendLocal, gateway.OutboxSuccess},
			{backendtype.BackendLocal, gateway.OutboxProcessing}, {backendtype.BackendEverMemOS, gateway.OutboxDeadLetter},
			{backendtype.BackendEverMemOS, gateway.OutboxPending}, {backendtype.BackendEverMemOS, gateway.OutboxSkipped},
		} {
			job := pt.Job(func(j *gateway.CommitJob) { j.ID = fmt.Sprintf("gwc_depth_%d", i); j.SessionID = j.ID })
			_, _, err := store.CreateCommitJob(ctx, job, []gateway.OutboxEvent{pt.Event(job, c.backend, status(c.status))}, pt.Audit(job.ID))
			require.NoError(t, err)
		}

		depth, err = store.OutboxDepth(ctx)
		require.NoError(t, err)
		require.Equal(t, map[backendtype.Backend]gateway.OutboxSummary{
			backendtype.BackendLocal:     {TotalEvents: 2, PendingEvents: 1, ProcessingEvents: 1},
			backendtype.BackendEverMemOS: {TotalEvents: 2, PendingEvents: 1, DeadLetterEvents: 1},
		}, depth, "finished events are left out")
	})
}

func TestStoreCreateCommitJobIsAtomic(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		job := pt.Job()
		good := pt.Event(job, backendtype.BackendLocal)
		// The second event breaks the job foreign key: the whole commit must
		// roll back, the job and the first event included.
		bad := pt.Event(job, backendtype.BackendEverMemOS, func(e *gateway.OutboxEvent) { e.JobID = ptr("gwc_missing") })
		_, _, err := store.CreateCommitJob(ctx, job, []gateway.OutboxEvent{good, bad}, pt.Audit(job.ID))
		require.Error(t, err)
		jobs, err := store.CommitJobsByIDs(ctx, []string{job.ID})
		require.NoError(t, err)
		require.Empty(t, jobs, "no job without its events")
		events, err := store.OutboxEventsByIDs(ctx, []string{good.ID})
		require.NoError(t, err)
		require.Empty(t, events)
	})
}

func TestStoreSaveFeedback(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		ref := pt.Ref()
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		fb := gateway.MemoryFeedback{
			ID: "fb_1", WorkspaceID: "ws", UserID: "user", AgentID: "agent", Namespace: "team",
			MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackCorrection, Status: gateway.FeedbackReceived,
			HasCorrection: true, CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime,
		}
		content := gateway.FeedbackContent{Correction: "green"}
		stored, created, err := store.SaveFeedback(ctx, fb, content, pt.Audit(ref.ID), nil)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, fb.ID, stored.ID)

		_, created, err = store.SaveFeedback(ctx, fb, content, pt.Audit(ref.ID), nil)
		require.NoError(t, err)
		require.False(t, created)

		got, err := store.FeedbackContent(ctx, fb.ID)
		require.NoError(t, err)
		require.Equal(t, "green", got.Correction)

		page, err := store.ListFeedbackGrouped(ctx, gateway.FeedbackByRef, []string{ref.ID}, gateway.FeedbackFilter{}, gateway.PageRequest{First: 5})
		require.NoError(t, err)
		require.Len(t, page[ref.ID].Items, 1)
	})
}

func TestStoreListPaging(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		var refs []gateway.MemoryRef
		for i := range 7 {
			r := pt.Ref(func(r *gateway.MemoryRef) {
				r.SessionID = fmt.Sprintf("s%d", i%2)
				// Two refs share a timestamp: the id breaks the tie.
				if i == 4 {
					r.CreatedAt = refs[3].CreatedAt
				}
			})
			refs = append(refs, r)
		}
		require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit("x")))

		var seen []string
		var after *gateway.Cursor
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := store.ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 3, After: after})
			require.NoError(t, err)
			require.Equal(t, after != nil, page.HasPreviousPage)
			for _, r := range page.Items {
				seen = append(seen, r.ID)
			}
			if !page.HasNextPage {
				break
			}
			last := page.Items[len(page.Items)-1]
			after = &gateway.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		require.Len(t, seen, 7, "every ref exactly once")
		// Newest first, id descending on ties.
		for i := 1; i < len(seen); i++ {
			prev, cur := find(refs, seen[i-1]), find(refs, seen[i])
			require.True(t, prev.CreatedAt.After(cur.CreatedAt) || (prev.CreatedAt.Equal(cur.CreatedAt) && prev.ID > cur.ID))
		}

		// Backward from the list's end: the same order, page by page.
		var backward []string
		var before *gateway.Cursor
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := store.ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws"}, gateway.PageRequest{Backward: true, Last: 3, Before: before})
			require.NoError(t, err)
			require.Equal(t, before != nil, page.HasNextPage)
			ids := make([]string, 0, len(page.Items))
			for _, r := range page.Items {
				ids = append(ids, r.ID)
			}
			backward = append(ids, backward...)
			if !page.HasPreviousPage {
				break
			}
			first := page.Items[0]
			before = &gateway.Cursor{CreatedAt: first.CreatedAt, ID: first.ID}
		}
		require.Equal(t, seen, backward, "backward pages hold the same items in the same order")
		lastTwo, err := store.ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws"}, gateway.PageRequest{Backward: true, Last: 2})
		require.NoError(t, err)
		require.Equal(t, seen[5:], []string{lastTwo.Items[0].ID, lastTwo.Items[1].ID}, "last without before is the list's oldest items")

		grouped, err := store.ListMemoryRefsGrouped(ctx, gateway.RefsBySession, []string{"s0", "s1", "s9"}, gateway.RefFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 2})
		require.NoError(t, err)
		require.Len(t, grouped["s0"].Items, 2)
		require.True(t, grouped["s0"].HasNextPage) // 4 refs in s0
		require.Len(t, grouped["s1"].Items, 2)
		require.True(t, grouped["s1"].HasNextPage) // 3 refs in s1
		require.Empty(t, grouped["s9"].Items)
		require.False(t, grouped["s9"].HasNextPage)
	})
}

func TestStoreFilters(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		refs := []gateway.MemoryRef{
			pt.Ref(func(r *gateway.MemoryRef) { r.Namespace = "team" }),
			pt.Ref(func(r *gateway.MemoryRef) { r.Namespace = "team/alpha" }),
			pt.Ref(func(r *gateway.MemoryRef) { r.Namespace = "teamster" }),
			pt.Ref(func(r *gateway.MemoryRef) { r.Namespace = "te_m/x" }),
			pt.Ref(func(r *gateway.MemoryRef) {
				r.Backend = backendtype.BackendEverMemOS
				r.Status = gateway.RefStatusFailed
			}),
			pt.Ref(func(r *gateway.MemoryRef) { r.WorkspaceID = "other" }),
		}
		require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit("x")))
		tests := []struct {
			name   string
			filter gateway.RefFilter
			want   int
		}{
			{"workspace", gateway.RefFilter{WorkspaceID: "ws"}, 5},
			{"namespace and below", gateway.RefFilter{WorkspaceID: "ws", Namespace: "team"}, 3}, // team, team/alpha, + default team/alpha of the evermemos ref
			{"namespace is not a string prefix", gateway.RefFilter{Namespace: "teamster"}, 1},
			{"LIKE wildcards are literal", gateway.RefFilter{Namespace: "te_m"}, 1},
			{"backend and status", gateway.RefFilter{Backend: backendtype.BackendEverMemOS, Status: gateway.RefStatusFailed}, 1},
			{"gateway id", gateway.RefFilter{GatewayID: refs[0].GatewayID}, 1},
			{"nothing", gateway.RefFilter{WorkspaceID: "none"}, 0},
		}
		for _, tt := range tests {
			page, err := store.ListMemoryRefs(ctx, tt.filter, gateway.PageRequest{First: 50})
			require.NoError(t, err, tt.name)
			require.Len(t, page.Items, tt.want, tt.name)
		}

		native, err := store.RefsByNative(ctx, "ws", backendtype.BackendLocal, nil, nil)
		require.NoError(t, err)
		require.Empty(t, native)

		exists, err := store.SessionExists(ctx, "ws", "session", gateway.ReadScope{})
		require.NoError(t, err)
		require.True(t, exists)
		exists, err = store.SessionExists(ctx, "ws", "nope", gateway.ReadScope{})
		require.NoError(t, err)
		require.False(t, exists)
	})
}

// RefsByNative links a backend's items to their refs: by native id or uri,
// in one workspace and backend, live or retired (superseded, deleted) but
// never failed or pending. On PostgreSQL it runs prepared, its lists bound as
// arrays, either of them possibly empty.
func TestStoreRefsByNative(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		native := func(id, uri string, modify ...func(*gateway.MemoryRef)) gateway.MemoryRef {
			return pt.Ref(append([]func(*gateway.MemoryRef){func(r *gateway.MemoryRef) {
				r.Backend = backendtype.BackendEverMemOS
				if id != "" {
					r.NativeID = ptr(id)
				}
				if uri != "" {
					r.NativeURI = ptr(uri)
				}
			}}, modify...)...)
		}
		refs := []gateway.MemoryRef{
			native("ep1", ""),
			native("ep2", "", func(r *gateway.MemoryRef) { r.Status = gateway.RefStatusSuperseded }),
			native("ep3", "", func(r *gateway.MemoryRef) { r.Status = gateway.RefStatusDeleted }),
			native("ep4", "", func(r *gateway.MemoryRef) { r.Status = gateway.RefStatusFailed }),
			native("ep5", "", func(r *gateway.MemoryRef) { r.Status = gateway.RefStatusPending }),
			native("", "profile://u1"),
			native("ep1", "", func(r *gateway.MemoryRef) { r.WorkspaceID = "other" }),
			native("ep1", "", func(r *gateway.MemoryRef) { r.Backend = backendtype.BackendOpenViking }),
			native("it's", "a,b {c}"),
		}
		require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit("x")))
		tests := []struct {
			name      string
			ids, uris []string
			want      []string
		}{
			{"ids", []string{"ep1", "ep2", "ep3", "ep4", "ep5", "missing"}, nil, []string{refs[0].ID, refs[1].ID, refs[2].ID}},
			{"uris", nil, []string{"profile://u1"}, []string{refs[5].ID}},
			{"both", []string{"ep1"}, []string{"profile://u1", "none"}, []string{refs[0].ID, refs[5].ID}},
			{"quotes, commas and braces", []string{"it's"}, []string{"a,b {c}"}, []string{refs[8].ID}},
			{"nothing", nil, nil, nil},
		}
		for _, tt := range tests {
			got, err := store.RefsByNative(ctx, "ws", backendtype.BackendEverMemOS, tt.ids, tt.uris)
			require.NoError(t, err, tt.name)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
				require.Equal(t, "ws", r.WorkspaceID, tt.name)
				require.Equal(t, backendtype.BackendEverMemOS, r.Backend, tt.name)
			}
			require.ElementsMatch(t, tt.want, ids, tt.name)
		}
	})
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := pt.URL(t, d)
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i := range errs {
				wg.Go(func() {
					db, err := persistence.Open(ctx, url)
					if err != nil {
						errs[i] = err
						return
					}
					defer func() { _ = db.Close() }()
					errs[i] = db.Migrate(ctx, slog.New(slog.DiscardHandler))
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			db, err := persistence.Open(ctx, url)
			require.NoError(t, err)
			defer func() { _ = db.Close() }()
			pending, err := db.PendingMigrations(ctx)
			require.NoError(t, err)
			require.Zero(t, pending)
			require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
		})
	}
}

func find(refs []gateway.MemoryRef, id string) gateway.MemoryRef {
	for _, r := range refs {
		if r.ID == id {
			return r
		}
	}
	panic("no ref " + id)
}

func ptr[T any](v T) *T { return &v }

// TestGroupCommitAnswersEachIngest: concurrent ingests share transactions,
// yet each gets its own answer: one whose gateway id holds another user's
// turn or other content fails alone, duplicates of one turn both land once,
// and every write that succeeded is there with its audit entry while the
// refused ones left nothing.
func TestGroupCommitAnswersEachIngest(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		hash := func(s string) *string { return &s }
		// Turns already stored, each to be contested once (a distinct gateway
		// id per contest, so contests share batches).
		var taken []gateway.MemoryRef
		for range 40 {
			ref := pt.Ref(func(r *gateway.MemoryRef) { r.ContentHash = hash("a") })
			require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
			taken = append(taken, ref)
		}

		type write struct {
			ref   gateway.MemoryRef
			audit gateway.AuditEntry
			want  error
		}
		var writes []write
		for i := range 120 {
			ref := pt.Ref(func(r *gateway.MemoryRef) { r.ContentHash = hash("a") })
			switch i % 6 {
			case 1: // another user's turn under a taken gateway id
				ref = taken[i/3]
				ref.UserID = fmt.Sprintf("intruder-%d", i)
				writes = append(writes, write{ref, pt.Audit(fmt.Sprintf("intruder-%d", i)), gateway.ErrOutOfScope})
				continue
			case 2: // other content under a taken gateway id
				ref = taken[i/3]
				ref.ContentHash = hash(fmt.Sprintf("other-%d", i))
				writes = append(writes, write{ref, pt.Audit(fmt.Sprintf("other-%d", i)), gateway.ErrConflict})
				continue
			case 3: // the same new turn twice
				writes = append(writes, write{ref, pt.Audit(ref.ID + "-dup"), nil})
			}
			writes = append(writes, write{ref, pt.Audit(ref.ID), nil})
		}
		errs := make([]error, len(writes))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, w := range writes {
			wg.Go(func() {
				<-start
				errs[i] = store.SaveIngest(ctx, []gateway.MemoryRef{w.ref}, w.audit)
			})
		}
		close(start)
		wg.Wait()

		for i, w := range writes {
			if w.want != nil {
				require.ErrorIs(t, errs[i], w.want, "write %d", i)
			} else {
				require.NoError(t, errs[i], "write %d", i)
			}
			audits, err := store.ListAuditEntries(ctx, gateway.AuditFilter{TargetID: w.audit.TargetID}, gateway.PageRequest{First: 10})
			require.NoError(t, err)
			require.Equal(t, w.want == nil, len(audits.Items) == 1, "write %d: audited exactly when it succeeded", i)
			if w.want == nil {
				got, err := store.RefsByGatewayID(ctx, w.ref.GatewayID)
				require.NoError(t, err)
				require.Len(t, got, 1, "write %d", i)
			}
		}
		for _, ref := range taken {
			got, err := store.RefsByGatewayID(ctx, ref.GatewayID)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, "user", got[0].UserID, "the taken turn is untouched")
			require.Equal(t, "a", *got[0].ContentHash)
		}
	})
}

// TestStoreListCounts: a list's counts apply its filter and its scope, and
// count per status in one statement.
func TestStoreListCounts(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		statuses := []gateway.JobStatus{gateway.JobAccepted, gateway.JobFailed, gateway.JobFailed, gateway.JobSuccess}
		for i, status := range statuses {
			job := pt.Job(func(j *gateway.CommitJob) {
				j.Status = status
				j.SessionID = fmt.Sprintf("counted-%d", i)
				if i == 3 {
					j.UserID = "someone-else"
				}
			})
			_, _, err := store.CreateCommitJob(ctx, job, []gateway.OutboxEvent{pt.Event(job, backendtype.BackendLocal)}, pt.Audit(job.ID))
			require.NoError(t, err)
		}
		n, err := store.CountCommitJobs(ctx, gateway.JobFilter{WorkspaceID: "ws"})
		require.NoError(t, err)
		require.Equal(t, 4, n)
		n, err = store.CountCommitJobs(ctx, gateway.JobFilter{WorkspaceID: "ws", Status: gateway.JobFailed})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		userScope := gateway.ReadScope{Restricted: true, WorkspaceID: "ws", UserID: "user"}
		n, err = store.CountCommitJobs(ctx, gateway.JobFilter{Scope: userScope})
		require.NoError(t, err)
		require.Equal(t, 3, n, "another user's job is not counted")
		byStatus, err := store.CommitJobStatusCounts(ctx, gateway.JobFilter{Scope: userScope})
		require.NoError(t, err)
		require.Equal(t, map[gateway.JobStatus]int{gateway.JobAccepted: 1, gateway.JobFailed: 2}, byStatus)
		n, err = store.CountOutboxEvents(ctx, gateway.EventFilter{Scope: userScope})
		require.NoError(t, err)
		require.Equal(t, 3, n)
		n, err = store.CountAuditEntries(ctx, gateway.AuditFilter{WorkspaceID: "nowhere"})
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
