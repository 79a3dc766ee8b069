-- Feedback review and routing: the review, the job and outbox event that
-- carry an accepted correction or delete to the owning backend, and the
-- outcome; refs learn they were superseded and by which ref.
ALTER TABLE memory_feedback ADD COLUMN review_reason text;
ALTER TABLE memory_feedback ADD COLUMN reviewed_by text;
ALTER TABLE memory_feedback ADD COLUMN reviewed_at timestamp;
ALTER TABLE memory_feedback ADD COLUMN job_id text;
ALTER TABLE memory_feedback ADD COLUMN outbox_event_id text;
ALTER TABLE memory_feedback ADD COLUMN replacement_ref_id text;
ALTER TABLE memory_feedback ADD COLUMN result_reason text;
ALTER TABLE memory_feedback ADD COLUMN applied_at timestamp;

CREATE INDEX memory_feedback_replacement_idx ON memory_feedback (replacement_ref_id) WHERE replacement_ref_id IS NOT NULL;

ALTER TABLE memory_refs ADD COLUMN superseded_by_ref_id text;
ALTER TABLE memory_refs ADD COLUMN superseded_at timestamp;

CREATE INDEX memory_refs_superseded_by_idx ON memory_refs (superseded_by_ref_id) WHERE superseded_by_ref_id IS NOT NULL;

-- Retrieval screens every answer against the user's retired facts: a small
-- partial index keeps that lookup off the live refs.
CREATE INDEX memory_refs_retired_idx ON memory_refs (workspace_id, user_id, superseded_at DESC)
    WHERE status IN ('superseded', 'deleted') AND content_hash IS NOT NULL;
