-- The sessions list reads a workspace's sessions newest first, and one
-- user's; the keyset cursor is (created_at, session_id) within a workspace.
CREATE INDEX sessions_workspace_created_idx ON sessions (workspace_id, created_at DESC, session_id DESC);
CREATE INDEX sessions_user_created_idx ON sessions (workspace_id, user_id, created_at DESC, session_id DESC);
