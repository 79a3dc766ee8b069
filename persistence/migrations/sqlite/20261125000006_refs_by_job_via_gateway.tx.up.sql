-- A commit's refs carry the job id as their gateway id, so the gateway index
-- already finds a job's refs; the separate job index only cost writes.
DROP INDEX memory_refs_job_idx;
--bun:split
CREATE INDEX memory_refs_gateway_created_idx ON memory_refs (gateway_id, created_at DESC, id DESC);
--bun:split
DROP INDEX memory_refs_gateway_idx;
