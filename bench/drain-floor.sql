-- The least PostgreSQL work one drained outbox event needs, with perfect
-- batching: each write the worker must make per event, as ONE statement over
-- 50,000 events, in one session, with no fencing, no RETURNING, no arrays to
-- parse and no concurrency. Divide each time by 50,000 for microseconds per
-- event. BENCHMARKS.md ("Outbox drain") explains how it is used.
--
--   psql -d test -c 'DROP SCHEMA IF EXISTS drain_floor CASCADE; CREATE SCHEMA drain_floor'
--   DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=drain_floor' go run . migrate
--   psql -d test -f bench/drain-floor.sql
SET search_path = drain_floor;
TRUNCATE memory_refs, outbox_events, commit_jobs CASCADE;
INSERT INTO commit_jobs (id, workspace_id, user_id, agent_id, session_id, namespace, status, metadata, created_at, updated_at, version)
SELECT 'gwc_' || substr(md5('j' || i), 1, 24), 'bench', 'u', 'a', 's' || i, 'n', 'accepted', '{}', now(), now(), 1
FROM generate_series(1, 50000) AS i;
INSERT INTO outbox_events (id, job_id, gateway_id, workspace_id, user_id, agent_id, session_id, namespace, backend, operation,
                           status, attempt_count, max_attempts, next_retry_at, metadata, created_at, updated_at)
SELECT 'outbox_' || substr(md5('e' || i), 1, 24), 'gwc_' || substr(md5('j' || i), 1, 24), 'gwc_' || substr(md5('j' || i), 1, 24),
       'bench', 'u', 'a', 's' || i, 'n', 'evermemos', 'commit_session', 'pending', 0, 5, now() - interval '1 minute', '{}', now(), now()
FROM generate_series(1, 50000) AS i;
VACUUM ANALYZE outbox_events;
VACUUM ANALYZE commit_jobs;
CHECKPOINT;
\timing on
-- 1. claim: lease every event
UPDATE outbox_events SET status = 'processing', locked_by = 'worker-1', locked_at = now(),
       lease_expires_at = now() + interval '30 s', attempt_count = attempt_count + 1, updated_at = now()
WHERE status = 'pending';
-- 2. job start: ACCEPTED → RUNNING
UPDATE commit_jobs SET status = 'running', started_at = now(), updated_at = now(), version = version + 1
WHERE status = 'accepted';
-- 3. completion: the event's result
UPDATE outbox_events SET status = 'success', completed_at = now(), locked_by = NULL, locked_at = NULL,
       lease_expires_at = NULL, metadata = '{"native_id": "x"}', updated_at = now()
WHERE status = 'processing';
-- 4. the ref the backend produced
INSERT INTO memory_refs (id, gateway_id, provenance_id, workspace_id, user_id, agent_id, session_id, namespace, backend, ref_type,
                         status, native_id, source_type, source_event_id, job_id, outbox_event_id, metadata, created_at, updated_at)
SELECT 'gwr_' || substr(md5(id), 1, 24), job_id, 'gwp_' || substr(md5(id), 1, 24), workspace_id, user_id, agent_id, session_id,
       namespace, backend, 'commit', 'success', 'noop-' || id, 'commit_session', id, job_id, id, '{}', now(), now()
FROM outbox_events;
-- 5. job aggregation: RUNNING → SUCCESS
UPDATE commit_jobs SET status = 'success', finished_at = now(), created_refs_count = 1, updated_at = now(), version = version + 1
WHERE status = 'running';
