-- A failed attempt now records one coarse error and no status code, and a
-- refusal names only the host (README, Webhooks): the errors recorded
-- before, which told a closed port from an open one and named addresses and
-- resolvers, are rewritten so, as the API shows them.
UPDATE webhook_deliveries
SET last_error = CASE
        WHEN last_error LIKE 'destination % refused: %' THEN
            'destination refused: ' || substr(last_error, 13, strpos(last_error, ' refused: ') - 13) ||
            ' does not resolve to an address webhooks may reach'
        ELSE 'could not deliver: no 2xx response'
    END,
    last_status_code = NULL
WHERE status <> 'SUCCESS' AND last_error IS NOT NULL;
