-- A job's version grows by one with every change, so subscribers can order
-- states without trusting clocks of different processes.
ALTER TABLE commit_jobs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
