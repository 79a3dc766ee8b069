package persistence

import (
	"context"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// sqlDialect is everything the store does differently on PostgreSQL and on
// SQLite, in the manner of goose's dialect.Querier or River's riverdriver:
// one implementation per file (dialect_postgres.go, dialect_sqlite.go),
// chosen once when the database opens. Nothing outside these files asks
// which database it runs on.
type sqlDialect interface {
	// migrationsDir is the embedded directory of the dialect's migrations.
	migrationsDir() string
	// lockMigrations makes concurrent migrating processes wait for each
	// other; the returned func unlocks.
	lockMigrations(ctx context.Context, db *DB) (unlock func(), err error)
	// notifies reports whether other processes hear of changes through the
	// database (LISTEN/NOTIFY).
	notifies() bool
	// batchesReads: concurrent reads of one kind share a statement (a
	// server across a network); false: each reads alone (in process).
	batchesReads() bool
	// prepares: the ingest's statements run prepared (prepared.go), which
	// pays where a statement crosses a connection to a server that plans it.
	prepares() bool
	// notifyOutbox wakes workers in other processes (when the transaction
	// commits); notifyJobs announces changed jobs to them.
	notifyOutbox(ctx context.Context, db bun.IDB) error
	notifyJobs(ctx context.Context, tx bun.Tx, jobs []gateway.CommitJob) error

	// lockJobs serialises transactions that change the same jobs, in id
	// order (the lock order everywhere: jobs, then events).
	lockJobs(ctx context.Context, tx bun.Tx, jobIDs []string) error
	// lockPrincipalSlots serialises transactions that take subscription
	// slots of one principal.
	lockPrincipalSlots(ctx context.Context, tx bun.Tx, principal string) error
	// least and greatest name the functions of the smallest and the
	// largest of their arguments.
	least() string
	greatest() string
	// lockClaim adds the row locking of a claim's pick of due events.
	lockClaim(pick *bun.SelectQuery) *bun.SelectQuery
	// inSubquery matches column against the ids a subquery (the one
	// argument) selects; inList against a list of ids. Each in the form the
	// planner answers through the primary key.
	inSubquery(column string) string
	inList(column string, ids []string) (string, any)
	// timestampArg is a placeholder typed as a timestamp where the SQL gives
	// no type to infer (a CASE branch).
	timestampArg() string
	// withMetadataKey is column's JSON object with key set to the one
	// argument (a string).
	withMetadataKey(column, key string) string
	// metadataText is the text of key in column's JSON object (NULL when
	// it is missing).
	metadataText(column, key string) string

	// upsertRefs writes refs idempotently under refUpsertGuard.
	upsertRefs(ctx context.Context, tx bun.Tx, refs []gateway.MemoryRef) error
	// saveIngestsAtOnce writes the refs and audit entries of ingests
	// without a transaction of its own, when the dialect can do that
	// atomically and every ingest's basis check passes (see basisConflict);
	// false means nothing was written.
	saveIngestsAtOnce(ctx context.Context, db *DB, refs []gateway.MemoryRef, audits []gateway.AuditEntry) (bool, error)
	// completeEvents applies completions fenced by their leases, records
	// the attempts of those that landed (pruning each event's attempts to
	// the last gateway.AttemptsKeptPerEvent), and returns the leases they
	// landed under.
	completeEvents(ctx context.Context, db *DB, tx bun.Tx, rows []completionRow, ids []string, now time.Time) ([]lease, error)
	// aggregateJobs recomputes jobs from their events: any event PENDING or
	// PROCESSING → RUNNING; else no dead letter → SUCCESS; success and dead
	// letters → PARTIAL_SUCCESS; else FAILED. It also counts the refs each
	// job created and collects the dead letters' errors.
	aggregateJobs(ctx context.Context, db *DB, tx bun.Tx, jobIDs []string, now time.Time) ([]gateway.CommitJob, error)
}

// Shared SQL, written once for both dialects.

// refUpsertColumns are overwritten when a ref is written again; created_at
// and the ids are not.
var refUpsertColumns = []string{
	"provenance_id", "status", "native_id", "native_uri", "error_message", "content_hash",
	"job_id", "outbox_event_id", "metadata", "updated_at",
}

// refNotRetiredCondition keeps an upsert (a replayed ingest, a retried
// commit) from reviving a ref that an applied correction superseded or a
// delete request removed.
const refNotRetiredCondition = "r.status NOT IN ('superseded', 'deleted')"

// refUpsertGuard is when a ref written again replaces the stored one: a
// success is never downgraded by a later failure, a retired ref is never
// revived, and a ref never takes another turn's content hash.
const refUpsertGuard = "(r.status <> 'success' OR EXCLUDED.status = 'success') AND " + refNotRetiredCondition +
	" AND (r.content_hash IS NULL OR EXCLUDED.content_hash IS NULL OR r.content_hash = EXCLUDED.content_hash)"

// refUpsertSet is the SET list of a ref upsert, made once.
var refUpsertSet = sync.OnceValue(func() string {
	set := ""
	for i, col := range refUpsertColumns {
		if i > 0 {
			set += ", "
		}
		set += col + " = EXCLUDED." + col
	}
	return set
})

// jobStatusCase maps an aggregate's open/dead/ok/incomplete counts (columns
// of alias) to the job status, with the statuses as its four arguments. An
// incomplete erasure share (dead-lettered with ErrorCodeErasureIncomplete:
// it deleted what the backend can) makes the job partial, never failed.
func jobStatusCase(alias string) string {
	return "CASE WHEN " + alias + ".open_events > 0 THEN ? WHEN " + alias + ".dead_events = 0 THEN ? WHEN " +
		alias + ".ok_events + " + alias + ".incomplete_events > 0 THEN ? ELSE ? END"
}

// jobStatusArgs are jobStatusCase's arguments.
var jobStatusArgs = []any{gateway.JobRunning, gateway.JobSuccess, gateway.JobPartialSuccess, gateway.JobFailed}

// Notifies reports whether the database tells other processes of changes
// (PostgreSQL's LISTEN/NOTIFY): only then is a Listener of use.
func (db *DB) Notifies() bool { return db.sql.notifies() }
