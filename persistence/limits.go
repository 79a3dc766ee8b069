package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Limits shared by every process of a deployment: token buckets
// (rate_limit_buckets) and subscription slots (subscription_slots). Times
// are unix microseconds, so both dialects do the same arithmetic.

// LeaseTokens implements policy.TokenStore: in one statement, it refills
// the bucket of (principal, operation) from its last lease to req.Now
// (never beyond the burst; a clock behind the last lease refills nothing),
// takes up to req.Want whole tokens, and returns what it took and what is
// left. A bucket seen for the first time starts full. The row lock of the
// upsert serialises concurrent leases of one bucket on PostgreSQL; SQLite
// has one writer.
func (s *Store) LeaseTokens(ctx context.Context, req gateway.TokenLeaseRequest) (gateway.TokenLease, error) {
	burst := max(req.Burst, 1)
	want := min(max(req.Want, 1), burst)
	now := req.Now.UnixMicro()
	least, greatest := s.db.sql.least(), s.db.sql.greatest()
	// available: the bucket's tokens refilled to now; take: what the lease
	// takes of them.
	available := func() (string, []any) {
		return least + "(CAST(? AS double precision), b.tokens + CAST(? AS double precision) * " +
				greatest + "(0, ? - b.refilled_at_us) / 1000000.0)",
			[]any{burst, req.PerSecond, now}
	}
	take := func() (string, []any) {
		avail, args := available()
		return least + "(?, floor(" + avail + "))", append([]any{want}, args...)
	}
	availSQL, availArgs := available()
	takeSQL, takeArgs := take()
	query := "INSERT INTO rate_limit_buckets AS b (principal, operation, tokens, granted, refilled_at_us) VALUES (?, ?, ?, ?, ?) " +
		"ON CONFLICT (principal, operation) DO UPDATE SET " +
		"tokens = " + availSQL + " - " + takeSQL + ", " +
		"granted = " + takeSQL + ", " +
		"refilled_at_us = " + greatest + "(b.refilled_at_us, ?) " +
		"RETURNING tokens, granted"
	args := []any{req.Principal, req.Operation, float64(burst - want), want, now}
	args = append(args, availArgs...)
	args = append(args, takeArgs...)
	args = append(args, takeArgs...)
	args = append(args, now)
	var out struct {
		Tokens  float64
		Granted int
	}
	if err := s.db.NewRaw(query, args...).Scan(ctx, &out); err != nil {
		return gateway.TokenLease{}, fmt.Errorf("error leasing rate limit tokens: %w", err)
	}
	return gateway.TokenLease{Granted: out.Granted, Tokens: out.Tokens}, nil
}

// TakeSubscriptionSlot implements gateway.SubscriptionSlotStore: the
// principal's slots are locked (PostgreSQL; SQLite has one writer), counted
// and the new one inserted in one transaction.
func (s *Store) TakeSubscriptionSlot(ctx context.Context, slot gateway.SubscriptionSlot, limit int, now time.Time) (bool, error) {
	var taken bool
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.db.sql.lockPrincipalSlots(ctx, tx, slot.Principal); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO subscription_slots (id, principal, holder, expires_at_us) "+
			"SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM subscription_slots WHERE principal = ? AND expires_at_us > ?) < ?",
			slot.ID, slot.Principal, slot.Holder, slot.ExpiresAt.UnixMicro(), slot.Principal, now.UnixMicro(), limit)
		if err != nil {
			return fmt.Errorf("error inserting a subscription slot: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("error inserting a subscription slot: %w", err)
		}
		taken = n == 1
		return nil
	})
	return taken, err
}

// ReleaseSubscriptionSlot implements gateway.SubscriptionSlotStore.
func (s *Store) ReleaseSubscriptionSlot(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM subscription_slots WHERE id = ?", id); err != nil {
		return fmt.Errorf("error releasing a subscription slot: %w", err)
	}
	return nil
}

// RenewSubscriptionSlots implements gateway.SubscriptionSlotStore.
func (s *Store) RenewSubscriptionSlots(ctx context.Context, holder string, held []gateway.SubscriptionSlot, until, now time.Time) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM subscription_slots WHERE expires_at_us <= ?", now.UnixMicro()); err != nil {
			return fmt.Errorf("error sweeping expired subscription slots: %w", err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE subscription_slots SET expires_at_us = ? WHERE holder = ?", until.UnixMicro(), holder)
		if err != nil {
			return fmt.Errorf("error renewing subscription slots: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("error renewing subscription slots: %w", err)
		}
		if int(n) >= len(held) {
			return nil
		}
		// Some expired while this holder could not renew them (and another
		// process swept them): they are live here, so they count again.
		rows := make([]slotRow, len(held))
		for i, h := range held {
			rows[i] = slotRow{ID: h.ID, Principal: h.Principal, Holder: holder, ExpiresAtUS: until.UnixMicro()}
		}
		if _, err := tx.NewInsert().Model(&rows).On("CONFLICT (id) DO UPDATE").Set("expires_at_us = EXCLUDED.expires_at_us").Exec(ctx); err != nil {
			return fmt.Errorf("error recording subscription slots again: %w", err)
		}
		return nil
	})
}

// ReleaseHolderSlots implements gateway.SubscriptionSlotStore.
func (s *Store) ReleaseHolderSlots(ctx context.Context, holder string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM subscription_slots WHERE holder = ?", holder); err != nil {
		return fmt.Errorf("error releasing subscription slots: %w", err)
	}
	return nil
}

type slotRow struct {
	bun.BaseModel `bun:"table:subscription_slots,alias:ss"`
	ID            string `bun:"id,pk"`
	Principal     string `bun:"principal"`
	Holder        string `bun:"holder"`
	ExpiresAtUS   int64  `bun:"expires_at_us"`
}
