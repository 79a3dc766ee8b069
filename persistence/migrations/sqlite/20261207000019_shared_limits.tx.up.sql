-- Limits that hold for the deployment rather than per process (LIMITS_SCOPE
-- deployment): one token bucket per (principal, operation), from which each
-- process leases tokens in batches, and one row per live subscription, held
-- by its process under a lease the process renews (a killed process's rows
-- expire). Times are unix microseconds, so that both dialects do the
-- bucket's arithmetic alike. Only new tables: the previous release never
-- reads them.
CREATE TABLE rate_limit_buckets (
    principal      text NOT NULL,
    operation      text NOT NULL,
    -- tokens left after the last lease; granted is what that lease took.
    tokens         double precision NOT NULL,
    granted        integer NOT NULL,
    refilled_at_us bigint NOT NULL,
    PRIMARY KEY (principal, operation)
);
--bun:split
CREATE TABLE subscription_slots (
    id            text PRIMARY KEY,
    principal     text NOT NULL,
    holder        text NOT NULL,
    expires_at_us bigint NOT NULL
);
--bun:split
CREATE INDEX subscription_slots_principal_idx ON subscription_slots (principal, expires_at_us);
--bun:split
CREATE INDEX subscription_slots_holder_idx ON subscription_slots (holder);
