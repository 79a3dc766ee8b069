package persistence

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Outbox operations of the worker. Lock order, everywhere: commit jobs (by
// id, advisory locks) before outbox events, so claims, completions, rescues
// and re-drives from any number of processes never deadlock. (A claim locks
// pending events first, but with SKIP LOCKED it never waits for them.)

// ClaimOutboxEvents leases up to req.Limit due events of one backend to a
// worker in one statement (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the
// single writer serialises claims), counting the attempt, and moves their
// jobs from ACCEPTED to RUNNING in the same transaction.
func (s *Store) ClaimOutboxEvents(ctx context.Context, req gateway.ClaimRequest) (gateway.ClaimedBatch, error) {
	var batch gateway.ClaimedBatch
	if req.Limit <= 0 {
		return batch, nil
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Scan destinations are sized up front: growing them row by row
		// through reflection was a tenth of the worker's allocations.
		rows := make([]eventRow, 0, req.Limit)
		pick := tx.NewSelect().Model((*eventRow)(nil)).Column("e.id").
			Where("e.status = ?", gateway.OutboxPending).
			Where("e.backend = ?", req.Backend).
			Where("e.next_retry_at <= ?", req.Now).
			OrderExpr("e.next_retry_at, e.id").
			Limit(req.Limit)
		if req.WorkspaceID != "" {
			pick = pick.Where("e.workspace_id = ?", req.WorkspaceID)
		}
		pick = s.db.sql.lockClaim(pick)
		err := tx.NewUpdate().Model((*eventRow)(nil)).
			Set("status = ?", gateway.OutboxProcessing).
			Set("locked_by = ?", req.WorkerID).
			Set("locked_at = ?", req.Now).
			Set("lease_expires_at = ?", req.LeaseUntil).
			Set("attempt_count = e.attempt_count + 1").
			Set("claim_count = e.claim_count + 1").
			Set("updated_at = ?", req.Now).
			Where(s.db.sql.inSubquery("e.id"), pick).
			Returning("*").
			Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("error claiming outbox events: %w", err)
		}
		batch.Events = toDomain[gateway.OutboxEvent](rows)
		jobIDs := eventJobIDs(batch.Events)
		if len(jobIDs) == 0 {
			return nil
		}
		if err := s.db.sql.lockJobs(ctx, tx, jobIDs); err != nil {
			return err
		}
		started := make([]jobRow, 0, len(jobIDs))
		err = tx.NewUpdate().Model((*jobRow)(nil)).
			Set("status = ?", gateway.JobRunning).
			Set("started_at = COALESCE(j.started_at, ?)", req.Now).
			Set("updated_at = ?", req.Now).
			Set("version = j.version + 1").
			Where(s.db.sql.inList("j.id", jobIDs)).
			Where("j.status = ?", gateway.JobAccepted).
			Returning("*").
			Scan(ctx, &started)
		if err != nil {
			return fmt.Errorf("error starting jobs: %w", err)
		}
		batch.StartedJobs = toDomain[gateway.CommitJob](started)
		return s.db.sql.notifyJobs(ctx, tx, batch.StartedJobs)
	})
	if err != nil {
		return gateway.ClaimedBatch{}, err
	}
	return batch, nil
}

// ExtendOutboxLeases pushes the lease of events the worker still holds to
// until, and returns the ids it still holds.
func (s *Store) ExtendOutboxLeases(ctx context.Context, workerID string, ids []string, until, now time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var held []string
	err := s.db.NewUpdate().Model((*eventRow)(nil)).
		Set("lease_expires_at = ?", until).
		Set("updated_at = ?", now).
		Where("e.id IN (?)", bun.List(ids)).
		Where("e.locked_by = ?", workerID).
		Where("e.status = ?", gateway.OutboxProcessing).
		Returning("id").
		Scan(ctx, &held)
	if err != nil {
		return nil, fmt.Errorf("error extending leases: %w", err)
	}
	return held, nil
}

// completionRow is one completion as a row of the VALUES list of the batched
// completion update.
type completionRow struct {
	ID            string
	Status        gateway.OutboxStatus
	AttemptCount  int
	NextRetryAt   time.Time
	LastError     *string
	LastErrorCode *string
	Metadata      gateway.Metadata
	CompletedAt   *time.Time
	FenceWorker   string
	FenceClaim    int
	// The run's attempt record (outbox_attempts), written if it lands.
	Outcome    gateway.AttemptOutcome
	StartedAt  time.Time
	FinishedAt time.Time
}

// CompleteOutboxEvents applies a batch of completions in one transaction:
// each lands only if the event is still PROCESSING under the claim it ran
// under (the lease fence: worker and claim count), and with it the run's
// attempt record (the event's runs before the last
// gateway.AttemptsKeptPerEvent are deleted); the refs of the landed ones are
// upserted; their jobs are re-aggregated; and (PostgreSQL) the job changes
// are announced at commit.
func (s *Store) CompleteOutboxEvents(ctx context.Context, completions []gateway.OutboxCompletion, now time.Time) (gateway.CompletionResult, error) {
	var res gateway.CompletionResult
	if len(completions) == 0 {
		return res, nil
	}
	rows := make([]completionRow, len(completions))
	ids := make([]string, len(completions))
	jobSet := map[string]struct{}{}
	for i, c := range completions {
		ids[i] = c.EventID
		rows[i] = completionRow{
			ID: c.EventID, Status: c.Status, AttemptCount: c.AttemptCount, NextRetryAt: c.NextRetryAt.UTC(),
			LastError: c.LastError, LastErrorCode: c.LastErrorCode, Metadata: nonNil(c.Metadata),
			CompletedAt: utcPtr(c.CompletedAt), FenceWorker: c.FenceWorker, FenceClaim: c.FenceClaim,
			Outcome: c.AttemptOutcome(), StartedAt: c.StartedAt.UTC(), FinishedAt: c.FinishedAt.UTC(),
		}
		if c.FinishedAt.IsZero() {
			rows[i].FinishedAt = now.UTC()
		}
		if c.StartedAt.IsZero() || c.StartedAt.After(rows[i].FinishedAt) {
			rows[i].StartedAt = rows[i].FinishedAt
		}
		if c.JobID != nil {
			jobSet[*c.JobID] = struct{}{}
		}
	}
	jobIDs := sortedKeys(jobSet)
	if err := s.db.prepareOutboxStatements(ctx); err != nil {
		return gateway.CompletionResult{}, err
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.db.sql.lockJobs(ctx, tx, jobIDs); err != nil {
			return err
		}
		applied, err := s.db.sql.completeEvents(ctx, s.db, tx, rows, ids, now)
		if err != nil {
			return err
		}
		// Keyed by lease, not only by event: a batch may hold a stale and a
		// fresh result of one event, and only the fresh one's refs count.
		landed := make(map[lease]struct{}, len(applied))
		for _, l := range applied {
			landed[l] = struct{}{}
		}
		refCount := 0
		for _, c := range completions {
			refCount += len(c.Refs)
		}
		refs := make([]gateway.MemoryRef, 0, refCount)
		var outcomes []*gateway.FeedbackOutcome
		var erased []*gateway.ErasureCompletion
		var retirements []gateway.RefRetirement
		var dead []string
		sessionLabelled := map[string]bool{}
		for _, c := range completions {
			if _, ok := landed[lease{ID: c.EventID, ClaimCount: c.FenceClaim}]; ok {
				refs = append(refs, c.Refs...)
				for _, id := range c.SessionLabelled {
					sessionLabelled[id] = true
				}
				res.Applied = append(res.Applied, c.EventID)
				if c.Status == gateway.OutboxDeadLetter {
					dead = append(dead, c.EventID)
				}
				if c.Feedback != nil {
					outcomes = append(outcomes, c.Feedback)
				}
				if c.Erasure != nil {
					erased = append(erased, c.Erasure)
				}
				retirements = append(retirements, c.Retire...)
			} else {
				res.Lost = append(res.Lost, c.EventID)
			}
		}
		if err := labelBySession(ctx, tx, refs, sessionLabelled); err != nil {
			return err
		}
		if err := s.db.sql.upsertRefs(ctx, tx, refs); err != nil {
			return err
		}
		retired, err := applyFeedbackOutcomes(ctx, tx, outcomes, now)
		if err != nil {
			return err
		}
		for i := range retirements {
			refs, err := retireRefs(ctx, tx, &retirements[i], now)
			if err != nil {
				return err
			}
			retired = append(retired, refs...)
		}
		deadLettered, err := outboxEventsByID(ctx, tx, dead)
		if err != nil {
			return err
		}
		for _, e := range erased {
			if err := s.markErased(ctx, tx, e, now); err != nil {
				return err
			}
		}
		jobs, err := s.db.sql.aggregateJobs(ctx, s.db, tx, jobIDs, now)
		if err != nil {
			return err
		}
		res.Jobs = jobs
		return s.changed(ctx, tx, gateway.Changes{Jobs: jobs, RetiredRefs: retired, DeadLettered: deadLettered, At: now})
	})
	if err != nil {
		return gateway.CompletionResult{}, err
	}
	return res, nil
}

// lease names one claim of one event: what a completion landed under.
type lease struct {
	ID         string
	ClaimCount int
}

// RescueExpiredLeases returns events whose lease expired (their worker died
// or stalled) to PENDING, due now, or dead-letters those out of attempts. The
// attempt was counted when the event was claimed.
func (s *Store) RescueExpiredLeases(ctx context.Context, now time.Time, limit int) (gateway.RescueResult, error) {
	var res gateway.RescueResult
	if err := s.db.prepareOutboxStatements(ctx); err != nil {
		return gateway.RescueResult{}, err
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var expired []eventRow
		err := tx.NewSelect().Model(&expired).Column("e.id", "e.job_id").
			Where("e.status = ?", gateway.OutboxProcessing).
			Where("e.lease_expires_at < ?", now).
			OrderExpr("e.lease_expires_at").
			Limit(limit).
			Scan(ctx)
		if err != nil {
			return fmt.Errorf("error finding expired leases: %w", err)
		}
		if len(expired) == 0 {
			return nil
		}
		events := toDomain[gateway.OutboxEvent](expired)
		jobIDs := eventJobIDs(events)
		if err := s.db.sql.lockJobs(ctx, tx, jobIDs); err != nil {
			return err
		}
		// Read under lock what the update clears: the lease each run held,
		// for its attempt record.
		var held []eventRow
		lockHeld := tx.NewSelect().Model(&held).
			Column("e.id", "e.claim_count", "e.attempt_count", "e.locked_by", "e.locked_at", "e.workspace_id", "e.backend").
			Where("e.id IN (?)", bun.List(eventIDs(events))).
			Where("e.status = ?", gateway.OutboxProcessing).
			Where("e.lease_expires_at < ?", now)
		if err := s.db.sql.lockClaim(lockHeld).Scan(ctx); err != nil {
			return fmt.Errorf("error reading expired leases: %w", err)
		}
		if len(held) == 0 {
			return nil
		}
		ids := make([]string, len(held))
		for i, e := range held {
			ids[i] = e.ID
		}
		var rescued []eventRow
		err = tx.NewUpdate().Model((*eventRow)(nil)).
			Set("status = CASE WHEN e.attempt_count >= e.max_attempts THEN ? ELSE ? END", gateway.OutboxDeadLetter, gateway.OutboxPending).
			Set("completed_at = CASE WHEN e.attempt_count >= e.max_attempts THEN "+s.db.sql.timestampArg()+" ELSE NULL END", now).
			Set("next_retry_at = ?", now).
			Set("last_error = ?", leaseExpiredMessage).
			Set("last_error_code = ?", gateway.ErrorCodeLeaseExpired).
			Set("locked_by = NULL").
			Set("locked_at = NULL").
			Set("lease_expires_at = NULL").
			Set("updated_at = ?", now).
			Where("e.id IN (?)", bun.List(ids)).
			Where("e.status = ?", gateway.OutboxProcessing).
			Where("e.lease_expires_at < ?", now).
			Returning("id, status").
			Scan(ctx, &rescued)
		if err != nil {
			return fmt.Errorf("error rescuing expired leases: %w", err)
		}
		if err := insertLeaseExpiredAttempts(ctx, tx, held, rescued, now); err != nil {
			return err
		}
		var deadLettered []string
		for _, r := range rescued {
			if r.Status == gateway.OutboxDeadLetter {
				res.DeadLettered++
				deadLettered = append(deadLettered, r.ID)
			} else {
				res.Rescued++
			}
		}
		if err := failFeedbackOf(ctx, tx, deadLettered, gateway.ErrorCodeLeaseExpired, now); err != nil {
			return err
		}
		dead, err := outboxEventsByID(ctx, tx, deadLettered)
		if err != nil {
			return err
		}
		jobs, err := s.db.sql.aggregateJobs(ctx, s.db, tx, jobIDs, now)
		if err != nil {
			return err
		}
		res.Jobs = jobs
		if res.Rescued > 0 {
			if err := s.db.sql.notifyOutbox(ctx, tx); err != nil {
				return err
			}
		}
		return s.changed(ctx, tx, gateway.Changes{Jobs: jobs, DeadLettered: dead, At: now})
	})
	if err != nil {
		return gateway.RescueResult{}, err
	}
	return res, nil
}

// ReleaseOutboxEvents hands events a stopping worker did not finish back to
// PENDING, due now, without spending the attempt.
func (s *Store) ReleaseOutboxEvents(ctx context.Context, workerID string, ids []string, now time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := s.db.NewUpdate().Model((*eventRow)(nil)).
		Set("status = ?", gateway.OutboxPending).
		Set("attempt_count = CASE WHEN e.attempt_count > 0 THEN e.attempt_count - 1 ELSE 0 END").
		Set("next_retry_at = ?", now).
		Set("locked_by = NULL").
		Set("locked_at = NULL").
		Set("lease_expires_at = NULL").
		Set("updated_at = ?", now).
		Where("e.id IN (?)", bun.List(ids)).
		Where("e.locked_by = ?", workerID).
		Where("e.status = ?", gateway.OutboxProcessing).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("error releasing outbox events: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		// A hint only: workers poll as well.
		_ = s.db.sql.notifyOutbox(ctx, s.db)
	}
	return int(n), nil
}

// RedriveOutboxEvents puts dead-lettered events matching the filter (and, if
// ids are given, only those) back to PENDING with a fresh set of attempts,
// and re-aggregates their jobs, which become RUNNING again.
func (s *Store) RedriveOutboxEvents(ctx context.Context, f gateway.EventFilter, ids []string, now time.Time) ([]gateway.OutboxEvent, []gateway.CommitJob, error) {
	var redriven []gateway.OutboxEvent
	var jobs []gateway.CommitJob
	if err := s.db.prepareOutboxStatements(ctx); err != nil {
		return nil, nil, err
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var candidates []eventRow
		q := tx.NewSelect().Model(&candidates).Column("e.id", "e.job_id").Where("e.status = ?", gateway.OutboxDeadLetter)
		q = applyEventFilter(q, f)
		if ids != nil {
			q = q.Where("e.id IN (?)", bun.List(ids))
		}
		if err := q.Scan(ctx); err != nil {
			return fmt.Errorf("error finding dead letters: %w", err)
		}
		if len(candidates) == 0 {
			return nil
		}
		events := toDomain[gateway.OutboxEvent](candidates)
		jobIDs := eventJobIDs(events)
		if err := s.db.sql.lockJobs(ctx, tx, jobIDs); err != nil {
			return err
		}
		candidateIDs := make([]string, len(events))
		for i, e := range events {
			candidateIDs[i] = e.ID
		}
		var rows []eventRow
		err := tx.NewUpdate().Model((*eventRow)(nil)).
			Set("status = ?", gateway.OutboxPending).
			Set("attempt_count = 0").
			Set("next_retry_at = ?", now).
			Set("completed_at = NULL").
			Set("locked_by = NULL").
			Set("locked_at = NULL").
			Set("lease_expires_at = NULL").
			Set("updated_at = ?", now).
			Where("e.id IN (?)", bun.List(candidateIDs)).
			Where("e.status = ?", gateway.OutboxDeadLetter).
			Returning("*").
			Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("error re-driving dead letters: %w", err)
		}
		redriven = toDomain[gateway.OutboxEvent](rows)
		redrivenIDs := make([]string, len(redriven))
		for i, e := range redriven {
			redrivenIDs[i] = e.ID
		}
		if err := reacceptFeedbackOf(ctx, tx, redrivenIDs, now); err != nil {
			return err
		}
		if jobs, err = s.db.sql.aggregateJobs(ctx, s.db, tx, jobIDs, now); err != nil {
			return err
		}
		if err := s.db.sql.notifyOutbox(ctx, tx); err != nil {
			return err
		}
		return s.changed(ctx, tx, gateway.Changes{Jobs: jobs, At: now})
	})
	if err != nil {
		return nil, nil, err
	}
	return redriven, jobs, nil
}

// leaseExpiredMessage is the error of a run whose lease expired.
const leaseExpiredMessage = "the worker's lease expired before it finished"

// insertLeaseExpiredAttempts records the runs whose leases a rescue took
// back, from the leases they held.
func insertLeaseExpiredAttempts(ctx context.Context, tx bun.Tx, held, rescued []eventRow, now time.Time) error {
	done := make(map[string]bool, len(rescued))
	for _, r := range rescued {
		done[r.ID] = true
	}
	rows := make([]attemptRow, 0, len(rescued))
	for _, e := range held {
		if !done[e.ID] {
			continue
		}
		started := now
		if e.LockedAt != nil {
			started = e.LockedAt.UTC()
		}
		code, msg := gateway.ErrorCodeLeaseExpired, leaseExpiredMessage
		rows = append(rows, attemptRow{OutboxAttempt: gateway.OutboxAttempt{
			EventID: e.ID, Number: e.ClaimCount, Attempt: e.AttemptCount, WorkspaceID: e.WorkspaceID, Backend: e.Backend,
			WorkerID: derefString(e.LockedBy), Outcome: gateway.AttemptLeaseExpired, ErrorCode: &code, ErrorMessage: &msg,
			StartedAt: started, FinishedAt: now,
		}})
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.NewInsert().Model(&rows).On("CONFLICT (event_id, number) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("error recording expired leases' attempts: %w", err)
	}
	return nil
}

func eventIDs(events []gateway.OutboxEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func eventJobIDs(events []gateway.OutboxEvent) []string {
	set := map[string]struct{}{}
	for _, e := range events {
		if e.JobID != nil {
			set[*e.JobID] = struct{}{}
		}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
