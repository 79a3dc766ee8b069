package persistence

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// OutboxChannel is the PostgreSQL notification channel that wakes workers
// when outbox work is inserted. Notifications carry no payload: they are
// hints, and workers always poll as well.
const OutboxChannel = "memory_gateway_outbox"

// notifyOutbox queues a wake-up that PostgreSQL delivers when tx commits.
func notifyOutbox(ctx context.Context, tx bun.Tx) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, '')", OutboxChannel); err != nil {
		return fmt.Errorf("error notifying workers: %w", err)
	}
	return nil
}
