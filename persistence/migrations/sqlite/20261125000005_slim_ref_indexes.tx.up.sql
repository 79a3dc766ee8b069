-- Every ref write pays for every index. Filters by user, namespace prefix or
-- status are served by the workspace index (newest first) plus a filter;
-- these three indexes cost more on the write path than they save.
DROP INDEX memory_refs_user_idx;
--bun:split
DROP INDEX memory_refs_namespace_idx;
--bun:split
DROP INDEX memory_refs_status_idx;
--bun:split
DROP INDEX outbox_events_status_idx;
--bun:split
DROP INDEX commit_jobs_status_idx;
