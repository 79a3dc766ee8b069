-- The sender's claim takes due deliveries in turns across workspaces: it
-- skips through this index one workspace at a time and reads the first due
-- deliveries of each. It replaces the index of the oldest due deliveries
-- over all, which nothing reads any more (and which, offered a workspace
-- given as a parameter, the planner may prefer and then scan through a slow
-- workspace's backlog).
CREATE INDEX webhook_deliveries_turns_idx ON webhook_deliveries (workspace_id, next_retry_at, id) WHERE status = 'PENDING';
--bun:split
DROP INDEX webhook_deliveries_due_idx;
