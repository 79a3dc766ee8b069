-- Webhooks: endpoints a workspace's changes are pushed to, and one delivery
-- row per (endpoint, change), written in the transaction that makes the
-- change and sent by the worker under a lease (locked_by, lease_expires_at,
-- claim_count is the fence of its completion).
CREATE TABLE webhook_endpoints (
    id                       text PRIMARY KEY,
    workspace_id             text NOT NULL,
    url                      text NOT NULL,
    events                   text NOT NULL,
    enabled                  boolean NOT NULL,
    description              text,
    disabled_reason          text,
    consecutive_dead_letters integer NOT NULL DEFAULT 0,
    secret                   text NOT NULL,
    previous_secret          text,
    previous_secret_expiry   timestamp,
    created_at               timestamp NOT NULL,
    updated_at               timestamp NOT NULL
);
--bun:split
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id, created_at, id);
--bun:split
CREATE TABLE webhook_deliveries (
    id               text PRIMARY KEY,
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    workspace_id     text NOT NULL,
    event_type       text NOT NULL,
    status           text NOT NULL,
    attempt_count    integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    next_retry_at    timestamp,
    payload          text NOT NULL,
    locked_by        text,
    lease_expires_at timestamp,
    claim_count      integer NOT NULL DEFAULT 0,
    created_at       timestamp NOT NULL,
    updated_at       timestamp NOT NULL,
    delivered_at     timestamp
);
--bun:split
-- The sender's claim reads only what is due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_retry_at, id) WHERE status = 'PENDING';
--bun:split
CREATE INDEX webhook_deliveries_workspace_idx ON webhook_deliveries (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
