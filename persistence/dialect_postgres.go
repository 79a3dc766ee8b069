package persistence

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// postgresDialect is the store on PostgreSQL: advisory locks per job, claims
// with FOR UPDATE SKIP LOCKED, bulk writes through one array per column
// (unnest) — a VALUES list of N rows × M columns is N×M literals to parse
// and plan, an array per column is M, which on the worker's hot path halves
// the cost — and NOTIFY to other processes.
type postgresDialect struct{}

var _ sqlDialect = postgresDialect{}

// migrationLockKey is the PostgreSQL advisory lock taken while migrating
// (an arbitrary constant: "memgw" in ASCII).
const migrationLockKey int64 = 0x6d656d6777

// jobLockSeed separates the gateway's job advisory locks from other users of
// advisory locks in the same database.
const jobLockSeed = 0x6d67776a6f62 // "mgwjob"

func (postgresDialect) migrationsDir() string { return "migrations/postgres" }

// lockMigrations holds an advisory lock on a dedicated connection.
func (postgresDialect) lockMigrations(ctx context.Context, db *DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error reserving a connection for the migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrationLockKey); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("error taking the migration lock: %w", err)
	}
	return func() {
		// Unlock even if ctx is done; closing the connection would release
		// the lock too, but an explicit unlock keeps the connection reusable.
		_, unlockErr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockKey)
		_ = errors.Join(unlockErr, conn.Close())
	}, nil
}

func (postgresDialect) notifies() bool { return true }

func (postgresDialect) batchesReads() bool { return true }

func (postgresDialect) prepares() bool { return true }

// notifyOutbox queues a wake-up that PostgreSQL delivers when the
// transaction commits (at once outside one).
func (postgresDialect) notifyOutbox(ctx context.Context, db bun.IDB) error {
	if _, err := db.ExecContext(ctx, "SELECT pg_notify(?, '')", OutboxChannel); err != nil {
		return fmt.Errorf("error notifying workers: %w", err)
	}
	return nil
}

// notifyJobs: the payload carries ids only, chunked below the 8000-byte
// NOTIFY limit.
func (postgresDialect) notifyJobs(ctx context.Context, tx bun.Tx, jobs []gateway.CommitJob) error {
	if len(jobs) == 0 {
		return nil
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	for _, chunk := range chunkIDs(ids, notifyPayloadMax) {
		if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", JobsChannel, chunk); err != nil {
			return fmt.Errorf("error announcing job changes: %w", err)
		}
	}
	return nil
}

// lockJobs takes a transaction-scoped advisory lock per job. Advisory locks
// live in memory: unlike row locks they write nothing to the table or the
// WAL.
func (postgresDialect) lockJobs(ctx context.Context, tx bun.Tx, jobIDs []string) error {
	if len(jobIDs) == 0 {
		return nil
	}
	// jobIDs are sorted; ORDER BY keeps the lock order whatever the plan.
	_, err := tx.ExecContext(ctx,
		"SELECT pg_advisory_xact_lock(hashtextextended(id, ?)) FROM unnest(?::text[]) AS id ORDER BY id",
		jobLockSeed, textArray(jobIDs))
	if err != nil {
		return fmt.Errorf("error locking jobs: %w", err)
	}
	return nil
}

// slotLockSeed separates the subscription slots' advisory locks from the
// jobs' and from other users of advisory locks.
const slotLockSeed = 0x6d677773756273 // "mgwsubs"

// lockPrincipalSlots takes a transaction-scoped advisory lock on the
// principal: the count of its slots and the insert of one more are then
// one step for concurrent takers in every process.
func (postgresDialect) lockPrincipalSlots(ctx context.Context, tx bun.Tx, principal string) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, ?))", principal, slotLockSeed); err != nil {
		return fmt.Errorf("error locking subscription slots: %w", err)
	}
	return nil
}

func (postgresDialect) least() string    { return "LEAST" }
func (postgresDialect) greatest() string { return "GREATEST" }

// lockClaim: concurrent workers skip the rows others hold.
func (postgresDialect) lockClaim(pick *bun.SelectQuery) *bun.SelectQuery {
	return pick.For("UPDATE SKIP LOCKED")
}

// inSubquery: "= ANY(ARRAY(…))" is answered through the primary key;
// "IN (subquery)" makes PostgreSQL hash the whole table.
func (postgresDialect) inSubquery(column string) string { return column + " = ANY(ARRAY(?))" }

// inList passes the array through a subquery: shown a literal array of a
// few hundred ids, the planner weighs probing the key for each against
// scanning the table and, on a table of some tens of thousands of rows,
// scans it (every job, for every claim); behind a subquery it plans key
// probes.
func (postgresDialect) inList(column string, ids []string) (string, any) {
	return column + " = ANY(ARRAY(SELECT unnest(?::text[])))", textArray(ids)
}

func (postgresDialect) timestampArg() string { return "?::timestamptz" }

func (postgresDialect) metadataText(column, key string) string {
	return column + "->>'" + key + "'"
}

func (postgresDialect) withMetadataKey(column, key string) string {
	return column + " || jsonb_build_object('" + key + "', ?::text)"
}

const pgRefColumns = "id, gateway_id, provenance_id, workspace_id, user_id, agent_id, session_id, turn_id, namespace, " +
	"backend, ref_type, status, native_id, native_uri, idempotency_key, source_type, source_event_id, content_hash, " +
	"error_message, job_id, outbox_event_id, metadata, created_at, updated_at"

// pgRefSource is the unnest of a ref batch's columns (pgRefArrays' order),
// named u with pgRefColumns.
const pgRefSource = "SELECT u.id, u.gateway_id, u.provenance_id, u.workspace_id, u.user_id, u.agent_id, u.session_id, u.turn_id, u.namespace, " +
	"u.backend, u.ref_type, u.status, u.native_id, u.native_uri, u.idempotency_key, u.source_type, u.source_event_id, u.content_hash, " +
	"u.error_message, u.job_id, u.outbox_event_id, u.metadata::jsonb, u.created_at, u.updated_at " +
	"FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], " +
	"?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], " +
	"?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[]) AS u(" + pgRefColumns + ")"

// pgRefUpsert is the upsert of memory_refs from rows (pgRefSource, perhaps
// narrowed by a WHERE).
func pgRefUpsert(rows string) string {
	return "INSERT INTO memory_refs AS r (" + pgRefColumns + ") " + rows +
		" ON CONFLICT (id) DO UPDATE SET " + refUpsertSet() + " WHERE " + refUpsertGuard
}

// pgRefArrays are refs as one array per column, pgRefSource's arguments.
func pgRefArrays(refs []gateway.MemoryRef) ([]any, error) {
	n := len(refs)
	var (
		id, gw, prov, ws, user, agent, session, ns, backend, refType, status         = make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n)
		turn, nativeID, nativeURI, idem, srcType, srcEvent, hash, errMsg, job, event = make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n)
		metadata                                                                     = make(textArray, n)
		created, updated                                                             = make(timeArray, n), make(timeArray, n)
	)
	for i, r := range refs {
		md, err := json.Marshal(nonNil(r.Metadata))
		if err != nil {
			return nil, fmt.Errorf("error encoding ref metadata: %w", err)
		}
		id[i], gw[i], prov[i], ws[i], user[i], agent[i], session[i] = r.ID, r.GatewayID, r.ProvenanceID, r.WorkspaceID, r.UserID, r.AgentID, r.SessionID
		ns[i], backend[i], refType[i], status[i] = r.Namespace, string(r.Backend), string(r.RefType), string(r.Status)
		turn[i], nativeID[i], nativeURI[i], idem[i], srcType[i] = r.TurnID, r.NativeID, r.NativeURI, r.IdempotencyKey, r.SourceType
		srcEvent[i], hash[i], errMsg[i], job[i], event[i] = r.SourceEventID, r.ContentHash, r.ErrorMessage, r.JobID, r.OutboxEventID
		metadata[i], created[i], updated[i] = string(md), r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	}
	return []any{
		id, gw, prov, ws, user, agent, session, turn, ns, backend, refType, status, nativeID, nativeURI, idem, srcType, srcEvent, hash,
		errMsg, job, event, metadata, created, updated,
	}, nil
}

func (postgresDialect) upsertRefs(ctx context.Context, tx bun.Tx, refs []gateway.MemoryRef) error {
	if len(refs) == 0 {
		return nil
	}
	args, err := pgRefArrays(refs)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, formatBatch(tx.Dialect(), pgRefUpsert(pgRefSource), args...)); err != nil {
		return fmt.Errorf("error upserting %d refs: %w", len(refs), err)
	}
	return nil
}

// pgAuditColumns are audit_entries' columns, in pgAuditArrays' order.
const pgAuditColumns = "id, workspace_id, action, actor_user_id, actor_agent_id, principal, target_type, target_id, " +
	"namespace, session_id, job_id, gateway_id, metadata, created_at"

// pgAuditArrays are audit entries as one array per column.
func pgAuditArrays(entries []gateway.AuditEntry) ([]any, error) {
	n := len(entries)
	var (
		id, ws, action, targetType, targetID, metadata                 = make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n)
		actorUser, actorAgent, principal, ns, session, job, gatewayIDs = make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n), make(nullableTextArray, n)
		created                                                        = make(timeArray, n)
	)
	for i, e := range entries {
		md, err := json.Marshal(nonNil(e.Metadata))
		if err != nil {
			return nil, fmt.Errorf("error encoding audit metadata: %w", err)
		}
		id[i], ws[i], action[i], targetType[i], targetID[i], metadata[i] = e.ID, e.WorkspaceID, e.Action, e.TargetType, e.TargetID, string(md)
		actorUser[i], actorAgent[i], principal[i], ns[i], session[i], job[i], gatewayIDs[i] = e.ActorUserID, e.ActorAgentID, e.Principal, e.Namespace, e.SessionID, e.JobID, e.GatewayID
		created[i] = e.CreatedAt.UTC()
	}
	return []any{id, ws, action, actorUser, actorAgent, principal, targetType, targetID, ns, session, job, gatewayIDs, metadata, created}, nil
}

// saveIngestsAtOnce: one statement, so one round trip and no BEGIN or
// COMMIT of its own. Its parts see one snapshot, as the transaction's
// statements did under READ COMMITTED; the upsert's guard still settles a
// race on a ref's key. When a basis check fails nothing is written, and
// the transaction (which fails each such write alone) takes over.
func (postgresDialect) saveIngestsAtOnce(ctx context.Context, db *DB, refs []gateway.MemoryRef, audits []gateway.AuditEntry) (bool, error) {
	var gatewayIDs, users []string
	var hashes []*string
	seen := map[string]bool{}
	for _, r := range refs {
		if !seen[r.GatewayID] {
			seen[r.GatewayID] = true
			gatewayIDs, users, hashes = append(gatewayIDs, r.GatewayID), append(users, r.UserID), append(hashes, r.ContentHash)
		}
	}
	refArgs, err := pgRefArrays(refs)
	if err != nil {
		return false, err
	}
	auditArgs, err := pgAuditArrays(audits)
	if err != nil {
		return false, err
	}
	args := append([]any{textArray(gatewayIDs), textArray(users), nullableTextArray(hashes)}, refArgs...)
	args = append(args, auditArgs...)
	var written bool
	err = db.queryPrepared(ctx, pgSaveIngestsQuery, args, func(rows *sql.Rows) error {
		if !rows.Next() {
			return errors.New("no row")
		}
		return rows.Scan(&written)
	})
	if err != nil {
		return false, fmt.Errorf("error saving %d refs and %d audit entries: %w", len(refs), len(audits), err)
	}
	return written, nil
}

// pgSaveIngestsQuery is saveIngestsAtOnce's statement, prepared: the basis
// check, the refs' upsert and the audit entries' insert, over one array per
// column.
var pgSaveIngestsQuery = numberedPlaceholders("WITH w AS (SELECT * FROM unnest(?::text[], ?::text[], ?::text[]) AS w(gateway_id, user_id, content_hash)), " +
	// Each write's refs probed by index (LATERAL … OFFSET 0): as a join,
	// a batch on a large or unanalyzed table was planned as a hash join
	// over every ref.
	"bad AS (SELECT 1 FROM w CROSS JOIN LATERAL (SELECT 1 FROM memory_refs AS s WHERE s.gateway_id = w.gateway_id " +
	"AND (s.user_id <> w.user_id OR (s.content_hash IS NOT NULL AND w.content_hash IS NOT NULL AND s.content_hash <> w.content_hash)) " +
	"OFFSET 0) AS s LIMIT 1), " +
	"refs AS (" + pgRefUpsert(pgRefSource+" WHERE NOT EXISTS (SELECT 1 FROM bad)") + "), " +
	"audits AS (INSERT INTO audit_entries (" + pgAuditColumns + ") SELECT a.id, a.workspace_id, a.action, a.actor_user_id, " +
	"a.actor_agent_id, a.principal, a.target_type, a.target_id, a.namespace, a.session_id, a.job_id, a.gateway_id, " +
	"a.metadata::jsonb, a.created_at FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], " +
	"?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[]) AS a(" + pgAuditColumns + ") " +
	"WHERE NOT EXISTS (SELECT 1 FROM bad) ON CONFLICT (id) DO NOTHING) " +
	"SELECT NOT EXISTS (SELECT 1 FROM bad) AS written")

// completeEvents: // The fence is the lease itself, (locked_by, claim_count): every way out of
// PROCESSING clears locked_by (the outbox_events_lease_holder check keeps
// that true), and every claim raises claim_count, which nothing lowers; so a
// match means the event is still PROCESSING under the very claim the result
// came from. Not naming the
// status also keeps the planner on the primary key: "status = 'processing'"
// let it answer through the partial lease index, whose entries for every
// event completed since the last vacuum it then had to read again for each
// batch.
func (postgresDialect) completeEvents(ctx context.Context, db *DB, tx bun.Tx, rows []completionRow, _ []string, now time.Time) ([]lease, error) {
	n := len(rows)
	var (
		id, status, worker, metadata, outcome = make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n)
		attempt, fence                        = make(intArray, n), make(intArray, n)
		next, started, finished               = make(timeArray, n), make(timeArray, n), make(timeArray, n)
		completed                             = make(nullableTimeArray, n)
		lastErr, code                         = make(nullableTextArray, n), make(nullableTextArray, n)
	)
	for i, r := range rows {
		md, err := json.Marshal(r.Metadata)
		if err != nil {
			return nil, fmt.Errorf("error encoding event metadata: %w", err)
		}
		id[i], status[i], worker[i], metadata[i], outcome[i] = r.ID, string(r.Status), r.FenceWorker, string(md), string(r.Outcome)
		attempt[i], fence[i], next[i], completed[i] = r.AttemptCount, r.FenceClaim, r.NextRetryAt, r.CompletedAt
		lastErr[i], code[i], started[i], finished[i] = r.LastError, r.LastErrorCode, r.StartedAt, r.FinishedAt
	}
	applied := make([]lease, 0, n)
	args := []any{id, status, attempt, next, lastErr, code, metadata, completed, worker, fence,
		outcome, started, finished, now, id, gateway.AttemptsKeptPerEvent, gateway.AttemptsKeptPerEvent}
	err := db.queryPreparedIn(ctx, &tx, pgCompleteEventsQuery, args, func(r *sql.Rows) error {
		for r.Next() {
			var l lease
			if err := r.Scan(&l.ID, &l.ClaimCount); err != nil {
				return err
			}
			applied = append(applied, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error completing outbox events: %w", err)
	}
	return applied, nil
}

// pgCompleteEventsQuery is completeEvents' statement, prepared. One
// statement: the fenced update, the attempts of the completions that landed,
// and the pruning of those events' older attempts (only where there can be
// any). A batch may hold a stale and a fresh result of one event: the
// attempt joins on the claim it landed under.
var pgCompleteEventsQuery = numberedPlaceholders("WITH c AS (SELECT * FROM unnest(?::text[], ?::text[], ?::int[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], " +
	"?::timestamptz[], ?::text[], ?::int[], ?::text[], ?::timestamptz[], ?::timestamptz[]) " +
	"AS c(id, status, attempt_count, next_retry_at, last_error, last_error_code, metadata, completed_at, fence_worker, fence_claim, " +
	"outcome, started_at, finished_at)), " +
	"done AS (UPDATE outbox_events AS e SET status = c.status, attempt_count = c.attempt_count, next_retry_at = c.next_retry_at, " +
	"last_error = c.last_error, last_error_code = c.last_error_code, metadata = c.metadata::jsonb, completed_at = c.completed_at, " +
	"locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, updated_at = ?::timestamptz " +
	"FROM c WHERE e.id = c.id AND e.id = ANY(ARRAY(SELECT unnest(?::text[]))) AND e.locked_by = c.fence_worker AND e.claim_count = c.fence_claim " +
	"RETURNING e.id, e.claim_count, e.workspace_id, e.backend), " +
	"recorded AS (INSERT INTO outbox_attempts (event_id, number, attempt, workspace_id, backend, worker_id, outcome, error_code, " +
	"error_message, started_at, finished_at) " +
	"SELECT d.id, d.claim_count, c.attempt_count, d.workspace_id, d.backend, c.fence_worker, c.outcome, c.last_error_code, " +
	"c.last_error, c.started_at, c.finished_at FROM done AS d JOIN c ON c.id = d.id AND c.fence_claim = d.claim_count " +
	"ON CONFLICT (event_id, number) DO NOTHING), " +
	"pruned AS (DELETE FROM outbox_attempts AS a USING done AS d " +
	"WHERE d.claim_count > ?::int AND a.event_id = d.id AND a.number <= d.claim_count - ?::int) " +
	"SELECT id, claim_count FROM done")

// aggregateJobs is driven by the job id list: each job's events and refs are counted through their indexes
// (LATERAL), so the cost follows the batch, not the size of the tables, and
// no plan can turn it into a scan of every event.
func (postgresDialect) aggregateJobs(ctx context.Context, db *DB, tx bun.Tx, jobIDs []string, now time.Time) ([]gateway.CommitJob, error) {
	if len(jobIDs) == 0 {
		return nil, nil
	}
	rows := make([]jobRow, 0, len(jobIDs))
	args := append(append([]any{}, jobStatusArgs...), now, now, now, textArray(jobIDs),
		gateway.OutboxPending, gateway.OutboxProcessing, gateway.OutboxSuccess, gateway.OutboxDeadLetter,
		gateway.OutboxDeadLetter, gateway.ErrorCodeErasureIncomplete, gateway.OutboxDeadLetter)
	err := db.queryPreparedIn(ctx, &tx, db.aggregateJobsQuery(), args, func(r *sql.Rows) error {
		return db.ScanRows(ctx, r, &rows)
	})
	if err != nil {
		return nil, fmt.Errorf("error aggregating jobs: %w", err)
	}
	return toDomain[gateway.CommitJob](rows), nil
}

// aggregateJobsQuery is pgAggregateJobsQuery with the job columns it
// returns, numbered for preparing.
func (db *DB) aggregateJobsQuery() string {
	return db.prepared.text("aggregateJobs", func() string {
		return numberedPlaceholders(pgAggregateJobsQuery + columnsOf[jobRow](db, "j"))
	})
}

// pgAggregateJobsQuery is aggregateJobs' statement, prepared, but for the
// columns it returns (columnsOf the jobs).
var pgAggregateJobsQuery = "UPDATE commit_jobs AS j SET " +
	"status = " + jobStatusCase("a") + ", " +
	"started_at = COALESCE(j.started_at, ?::timestamptz), " +
	"finished_at = CASE WHEN a.open_events > 0 THEN NULL ELSE COALESCE(j.finished_at, ?::timestamptz) END, " +
	"error_message = a.errors, created_refs_count = a.refs, updated_at = ?::timestamptz, version = j.version + 1 " +
	"FROM (SELECT k.id, ev.open_events, ev.ok_events, ev.dead_events, ev.incomplete_events, ev.errors, rc.refs " +
	"FROM unnest(?::text[]) AS k(id) " +
	"CROSS JOIN LATERAL (SELECT count(*) AS events, " +
	"count(*) FILTER (WHERE o.status IN (?::text, ?::text)) AS open_events, " +
	"count(*) FILTER (WHERE o.status = ?::text) AS ok_events, " +
	"count(*) FILTER (WHERE o.status = ?::text) AS dead_events, " +
	"count(*) FILTER (WHERE o.status = ?::text AND o.last_error_code = ?::text) AS incomplete_events, " +
	"string_agg(o.backend || ': ' || o.last_error, '; ' ORDER BY o.backend) FILTER (WHERE o.status = ?::text) AS errors " +
	"FROM outbox_events AS o WHERE o.job_id = k.id) AS ev " +
	"CROSS JOIN LATERAL (SELECT count(*) AS refs FROM memory_refs AS r WHERE r.gateway_id = k.id AND r.job_id = k.id) AS rc " +
	"WHERE ev.events > 0) AS a " +
	"WHERE j.id = a.id RETURNING "
