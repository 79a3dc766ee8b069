package persistence

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

type webhookEndpointRow struct {
	bun.BaseModel `bun:"table:webhook_endpoints,alias:wh"`
	gateway.WebhookEndpoint
}

type webhookDeliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries,alias:wd"`
	gateway.WebhookDelivery
	RowNumber int `bun:"rn,scanonly"`
}

func (r webhookEndpointRow) domain() gateway.WebhookEndpoint {
	e := r.WebhookEndpoint
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	e.PreviousSecretExpiry = utcPtr(e.PreviousSecretExpiry)
	return e
}

func (r webhookEndpointRow) rowNumber() int { return 0 }

func (r webhookDeliveryRow) domain() gateway.WebhookDelivery {
	d := r.WebhookDelivery
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	d.NextRetryAt, d.DeliveredAt, d.LeaseExpiresAt = utcPtr(d.NextRetryAt), utcPtr(d.DeliveredAt), utcPtr(d.LeaseExpiresAt)
	return d
}

func (r webhookDeliveryRow) rowNumber() int { return r.RowNumber }

// changed is what every transaction does last that changes what endpoints
// may be told of: it writes the deliveries of the webhook events the
// domain says the changes fire (gateway.Changes decides which), and
// announces the changed jobs.
func (s *Store) changed(ctx context.Context, tx bun.Tx, ch gateway.Changes) error {
	if err := s.enqueueWebhooks(ctx, tx, ch.WebhookEvents(), ch.At); err != nil {
		return err
	}
	return s.db.sql.notifyJobs(ctx, tx, ch.Jobs)
}

// enqueueWebhooks writes one PENDING delivery of each event for every
// enabled endpoint of its workspace that subscribes to its type, in the
// caller's transaction. The drain finishes jobs by the thousand, so it first
// asks which of the events' workspaces subscribe to what (one statement),
// and encodes and writes only the events someone takes, in one statement. A
// delivery's id derives from the event's key and the endpoint, so an event
// written twice is delivered once.
func (s *Store) enqueueWebhooks(ctx context.Context, tx bun.IDB, events []gateway.WebhookEvent, now time.Time) error {
	if len(events) == 0 {
		return nil
	}
	subscribed, err := webhookSubscriptions(ctx, tx, events, func(ev gateway.WebhookEvent) string { return ev.WorkspaceID })
	if err != nil {
		return err
	}
	events = slices.DeleteFunc(events, func(ev gateway.WebhookEvent) bool { return !subscribed[ev.WorkspaceID][ev.Type] })
	if len(events) == 0 {
		return nil
	}
	var values strings.Builder
	args := make([]any, 0, 4*len(events)+6)
	for i, ev := range events {
		body, err := json.Marshal(ev.Body())
		if err != nil {
			return fmt.Errorf("error encoding a webhook payload: %w", err)
		}
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(?, ?, ?, ?)")
		args = append(args, ev.WorkspaceID, string(ev.Type), gateway.WebhookEventKeyHash(ev.Key), string(body))
	}
	ts := s.db.sql.timestampArg()
	query := "WITH v (workspace_id, event_type, key_hash, payload) AS (VALUES " + values.String() + ") " +
		"INSERT INTO webhook_deliveries (id, endpoint_id, workspace_id, event_type, status, attempt_count, next_retry_at, payload, claim_count, created_at, updated_at) " +
		"SELECT ? || v.key_hash || substr(wh.id, ?), wh.id, wh.workspace_id, v.event_type, ?, 0, " + ts + ", v.payload, 0, " + ts + ", " + ts + " " +
		"FROM v JOIN webhook_endpoints AS wh ON wh.workspace_id = v.workspace_id " +
		"WHERE wh.enabled AND wh.events LIKE '%\"' || v.event_type || '\"%' " +
		"ON CONFLICT (id) DO NOTHING"
	args = append(args, gateway.PrefixWebhookDelivery, len(gateway.PrefixWebhookEndpoint)+1, gateway.WebhookPending, now, now, now)
	if _, err := tx.NewRaw(query, args...).Exec(ctx); err != nil {
		return fmt.Errorf("error writing webhook deliveries: %w", err)
	}
	return nil
}

// webhookSubscriptions returns, for the workspaces of items, the event
// types their enabled endpoints subscribe to (in one statement; workspaces
// without endpoints are absent).
func webhookSubscriptions[T any](ctx context.Context, tx bun.IDB, items []T, workspaceOf func(T) string) (map[string]map[gateway.WebhookEventType]bool, error) {
	set := map[string]struct{}{}
	for _, it := range items {
		set[workspaceOf(it)] = struct{}{}
	}
	var rows []webhookEndpointRow
	err := tx.NewSelect().Model(&rows).Column("wh.workspace_id", "wh.events").
		Where("wh.workspace_id IN (?)", bun.List(sortedKeys(set))).
		Where("wh.enabled").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error reading webhook subscriptions: %w", err)
	}
	out := map[string]map[gateway.WebhookEventType]bool{}
	for _, r := range rows {
		types := out[r.WorkspaceID]
		if types == nil {
			types = map[gateway.WebhookEventType]bool{}
			out[r.WorkspaceID] = types
		}
		for _, t := range r.Events {
			types[t] = true
		}
	}
	return out, nil
}

// outboxEventsByID reads outbox events as the transaction left them.
func outboxEventsByID(ctx context.Context, tx bun.Tx, ids []string) ([]gateway.OutboxEvent, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []eventRow
	if err := tx.NewSelect().Model(&rows).Where("e.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading outbox events: %w", err)
	}
	return toDomain[gateway.OutboxEvent](rows), nil
}

// InsertWebhookEndpoint implements gateway.WebhookStore.
func (s *Store) InsertWebhookEndpoint(ctx context.Context, e gateway.WebhookEndpoint, max int, audit gateway.AuditEntry) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Serialises creations within a workspace, so the cap holds.
		if err := s.db.sql.lockJobs(ctx, tx, []string{"webhooks:" + e.WorkspaceID}); err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*webhookEndpointRow)(nil)).Where("wh.workspace_id = ?", e.WorkspaceID).Count(ctx)
		if err != nil {
			return fmt.Errorf("error counting webhook endpoints: %w", err)
		}
		if n >= max {
			return gateway.NewInputError("input.workspaceId", fmt.Sprintf("already has %d webhook endpoints, the most a workspace may have", max))
		}
		if _, err := tx.NewInsert().Model(&webhookEndpointRow{WebhookEndpoint: e}).Exec(ctx); err != nil {
			return fmt.Errorf("error inserting the webhook endpoint: %w", err)
		}
		return insertAudit(ctx, tx, audit)
	})
}

// UpdateWebhookEndpoint implements gateway.WebhookStore.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, change func(*gateway.WebhookEndpoint) (gateway.AuditEntry, error)) (gateway.WebhookEndpoint, error) {
	var out gateway.WebhookEndpoint
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row webhookEndpointRow
		q := tx.NewSelect().Model(&row).Where("wh.id = ?", id)
		if err := s.db.sql.lockClaim(q).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return &gateway.NotFoundError{Field: "input.id", What: "webhook endpoint"}
			}
			return fmt.Errorf("error reading the webhook endpoint: %w", err)
		}
		e := row.domain()
		audit, err := change(&e)
		if err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model(&webhookEndpointRow{WebhookEndpoint: e}).Where("wh.id = ?", e.ID).Exec(ctx); err != nil {
			return fmt.Errorf("error updating the webhook endpoint: %w", err)
		}
		out = e
		return insertAudit(ctx, tx, audit)
	})
	return out, err
}

// DeleteWebhookEndpoint implements gateway.WebhookStore.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string, audit gateway.AuditEntry) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*webhookDeliveryRow)(nil)).Where("wd.endpoint_id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("error deleting the endpoint's deliveries: %w", err)
		}
		if _, err := tx.NewDelete().Model((*webhookEndpointRow)(nil)).Where("wh.id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("error deleting the webhook endpoint: %w", err)
		}
		return insertAudit(ctx, tx, audit)
	})
}

// WebhookEndpointsByIDs implements gateway.WebhookStore.
func (s *Store) WebhookEndpointsByIDs(ctx context.Context, ids []string) ([]gateway.WebhookEndpoint, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []webhookEndpointRow
	if err := s.db.NewSelect().Model(&rows).Where("wh.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading webhook endpoints: %w", err)
	}
	return toDomain[gateway.WebhookEndpoint](rows), nil
}

// ListWebhookEndpoints implements gateway.WebhookStore: oldest first.
func (s *Store) ListWebhookEndpoints(ctx context.Context, workspaceID string) ([]gateway.WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	err := s.db.NewSelect().Model(&rows).Where("wh.workspace_id = ?", workspaceID).OrderExpr("wh.created_at, wh.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error listing webhook endpoints: %w", err)
	}
	return toDomain[gateway.WebhookEndpoint](rows), nil
}

// WebhookDeliveriesByIDs implements gateway.WebhookStore.
func (s *Store) WebhookDeliveriesByIDs(ctx context.Context, ids []string) ([]gateway.WebhookDelivery, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []webhookDeliveryRow
	if err := s.db.NewSelect().Model(&rows).Where("wd.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading webhook deliveries: %w", err)
	}
	return toDomain[gateway.WebhookDelivery](rows), nil
}

// ListWebhookDeliveries implements gateway.WebhookStore.
func (s *Store) ListWebhookDeliveries(ctx context.Context, f gateway.WebhookDeliveryFilter, p gateway.PageRequest) (gateway.Page[gateway.WebhookDelivery], error) {
	return listPage[gateway.WebhookDelivery, webhookDeliveryRow](ctx, s.db, "wd", func(q *bun.SelectQuery) *bun.SelectQuery { return applyDeliveryFilter(q, f) }, p)
}

func applyDeliveryFilter(q *bun.SelectQuery, f gateway.WebhookDeliveryFilter) *bun.SelectQuery {
	q = whereEq(q, "wd.workspace_id", f.WorkspaceID)
	q = whereEq(q, "wd.endpoint_id", f.EndpointID)
	q = whereEq(q, "wd.status", string(f.Status))
	return whereEq(q, "wd.event_type", string(f.EventType))
}

// RedriveWebhookDelivery implements gateway.WebhookStore.
func (s *Store) RedriveWebhookDelivery(ctx context.Context, id string, now time.Time, audit gateway.AuditEntry) (gateway.WebhookDelivery, bool, error) {
	var out gateway.WebhookDelivery
	redriven := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var rows []webhookDeliveryRow
		err := tx.NewUpdate().Model((*webhookDeliveryRow)(nil)).
			Set("status = ?", gateway.WebhookPending).
			Set("attempt_count = 0").
			Set("next_retry_at = ?", now).
			Set("locked_by = NULL").
			Set("lease_expires_at = NULL").
			Set("updated_at = ?", now).
			Where("wd.id = ?", id).
			Where("wd.status = ?", gateway.WebhookDeadLetter).
			Returning("*").
			Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("error re-driving the webhook delivery: %w", err)
		}
		if len(rows) == 0 {
			var row webhookDeliveryRow
			if err := tx.NewSelect().Model(&row).Where("wd.id = ?", id).Scan(ctx); err != nil {
				return fmt.Errorf("error reading the webhook delivery: %w", err)
			}
			out = row.domain()
			return nil
		}
		out, redriven = rows[0].domain(), true
		return insertAudit(ctx, tx, audit)
	})
	return out, redriven, err
}

// ClaimWebhookDeliveries leases up to limit due deliveries of enabled
// endpoints to a sender, counting the attempt. A delivery whose sender's
// lease ran out (it died or stalled) is due again: at least once. The
// deliveries are taken in turns across workspaces (webhookTurns).
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, workerID string, limit int, now, leaseUntil time.Time, share gateway.WebhookShare) ([]gateway.ClaimedWebhook, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []gateway.ClaimedWebhook
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		turns, err := webhookTurns(ctx, tx, limit, now, share)
		if err != nil || len(turns) == 0 {
			return err
		}
		// The statement that leases them checks again that each is still
		// due: another sender may have taken one since they were read (on
		// PostgreSQL it skips one another sender holds locked).
		enabled := tx.NewSelect().Model((*webhookEndpointRow)(nil)).Column("wh.id").Where("wh.enabled")
		pick := tx.NewSelect().Model((*webhookDeliveryRow)(nil)).Column("wd.id").
			Where("wd.id IN (?)", bun.List(turns)).
			Where("wd.status = ?", gateway.WebhookPending).
			Where("wd.next_retry_at <= ?", now).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("wd.lease_expires_at IS NULL").WhereOr("wd.lease_expires_at < ?", now)
			}).
			Where("wd.endpoint_id IN (?)", enabled)
		pick = s.db.sql.lockClaim(pick)
		rows := make([]webhookDeliveryRow, 0, limit)
		err = tx.NewUpdate().Model((*webhookDeliveryRow)(nil)).
			Set("locked_by = ?", workerID).
			Set("lease_expires_at = ?", leaseUntil).
			Set("attempt_count = wd.attempt_count + 1").
			Set("claim_count = wd.claim_count + 1").
			Set("updated_at = ?", now).
			Where(s.db.sql.inSubquery("wd.id"), pick).
			Returning("*").
			Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("error claiming webhook deliveries: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		ids := map[string]struct{}{}
		for _, r := range rows {
			ids[r.EndpointID] = struct{}{}
		}
		var endpoints []webhookEndpointRow
		if err := tx.NewSelect().Model(&endpoints).Where("wh.id IN (?)", bun.List(sortedKeys(ids))).Scan(ctx); err != nil {
			return fmt.Errorf("error reading the deliveries' endpoints: %w", err)
		}
		byID := make(map[string]gateway.WebhookEndpoint, len(endpoints))
		for _, e := range endpoints {
			byID[e.ID] = e.domain()
		}
		for _, r := range rows {
			e := byID[r.EndpointID]
			out = append(out, gateway.ClaimedWebhook{Delivery: r.domain(), URL: e.URL, Secrets: e.SigningSecrets(now)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// webhookTurns picks the ids of up to limit due deliveries in turns across
// workspaces, not the oldest over all: a workspace whose endpoints are slow
// piles up due deliveries, and taking the oldest would hand it every sender.
// A delivery's turn is its place among its workspace's due deliveries
// (oldest first) plus what the workspace already has in flight at the
// sender; the lowest turns go first and none beyond share.PerWorkspace.
// Equal turns go to the workspace with fewer in flight, then to the one
// whose oldest pending delivery is older.
//
// It reads little more than what it picks, whatever a slow tenant piled up:
// the workspaces with pending deliveries are found by skipping through the
// partial index on (workspace_id, next_retry_at, id) one workspace at a time
// (two index probes each), and their due deliveries are read in the order
// the turns go, a few workspaces at a time, each no further than it may
// still take, until no workspace left can have an earlier turn.
func webhookTurns(ctx context.Context, tx bun.IDB, limit int, now time.Time, share gateway.WebhookShare) ([]string, error) {
	type workspace struct {
		ID string `bun:"w"`
		// Head is its oldest pending delivery's due time (it may be in
		// flight, or not due yet): how long it has waited, roughly.
		Head     time.Time `bun:"head"`
		inFlight int
		order    int
	}
	var pending []workspace
	err := tx.NewRaw("WITH RECURSIVE ws (w) AS ("+
		"SELECT (SELECT MIN(x.workspace_id) FROM webhook_deliveries AS x WHERE x.status = ?) "+
		"UNION ALL SELECT (SELECT MIN(x.workspace_id) FROM webhook_deliveries AS x WHERE x.status = ? AND x.workspace_id > ws.w) "+
		"FROM ws WHERE ws.w IS NOT NULL) "+
		"SELECT ws.w, (SELECT MIN(x.next_retry_at) FROM webhook_deliveries AS x WHERE x.status = ? AND x.workspace_id = ws.w) AS head "+
		"FROM ws WHERE ws.w IS NOT NULL",
		gateway.WebhookPending, gateway.WebhookPending, gateway.WebhookPending).Scan(ctx, &pending)
	if err != nil {
		return nil, fmt.Errorf("error listing workspaces with pending webhook deliveries: %w", err)
	}
	eligible := pending[:0]
	for _, w := range pending {
		w.inFlight = share.InFlight[w.ID]
		if share.PerWorkspace <= 0 || w.inFlight < share.PerWorkspace {
			eligible = append(eligible, w)
		}
	}
	slices.SortFunc(eligible, func(a, b workspace) int {
		return cmp.Or(cmp.Compare(a.inFlight, b.inFlight), a.Head.Compare(b.Head), cmp.Compare(a.ID, b.ID))
	})
	byID := make(map[string]*workspace, len(eligible))
	for i := range eligible {
		eligible[i].order = i
		byID[eligible[i].ID] = &eligible[i]
	}

	type candidate struct {
		ID          string    `bun:"id"`
		WorkspaceID string    `bun:"workspace_id"`
		NextRetryAt time.Time `bun:"next_retry_at"`
		turn, order int
	}
	var found []candidate
	for start := 0; start < len(eligible); start += limit {
		if start > 0 {
			// Every workspace left has a first turn of at least this; the
			// ones read win ties (they come first in the order).
			floor, ahead := eligible[start].inFlight+1, 0
			for _, c := range found {
				if c.turn <= floor {
					ahead++
				}
			}
			if ahead >= limit {
				break
			}
		}
		var query strings.Builder
		var args []any
		for i, w := range eligible[start:min(start+limit, len(eligible))] {
			if i > 0 {
				query.WriteString(" UNION ALL ")
			}
			take := limit
			if share.PerWorkspace > 0 {
				take = min(take, share.PerWorkspace-w.inFlight)
			}
			// Ordered by the index's columns, so the index answers it.
			query.WriteString("SELECT * FROM (SELECT wd.id, wd.workspace_id, wd.next_retry_at FROM webhook_deliveries AS wd " +
				"WHERE wd.workspace_id = ? AND wd.status = ? AND wd.next_retry_at <= ? " +
				"AND (wd.lease_expires_at IS NULL OR wd.lease_expires_at < ?) " +
				"AND wd.endpoint_id IN (SELECT wh.id FROM webhook_endpoints AS wh WHERE wh.enabled) " +
				"ORDER BY wd.workspace_id, wd.next_retry_at, wd.id LIMIT ?) AS w" + strconv.Itoa(i))
			args = append(args, w.ID, gateway.WebhookPending, now, now, take)
		}
		var chunk []candidate
		if err := tx.NewRaw(query.String(), args...).Scan(ctx, &chunk); err != nil {
			return nil, fmt.Errorf("error reading due webhook deliveries: %w", err)
		}
		// Each workspace's in order (not trusting the union to keep it), to
		// number their places.
		slices.SortFunc(chunk, func(a, b candidate) int {
			return cmp.Or(cmp.Compare(a.WorkspaceID, b.WorkspaceID), a.NextRetryAt.Compare(b.NextRetryAt), cmp.Compare(a.ID, b.ID))
		})
		for i := range chunk {
			c := &chunk[i]
			w := byID[c.WorkspaceID]
			if i == 0 || chunk[i-1].WorkspaceID != c.WorkspaceID {
				c.turn = w.inFlight + 1
			} else {
				c.turn = chunk[i-1].turn + 1
			}
			c.order = w.order
		}
		found = append(found, chunk...)
	}
	slices.SortFunc(found, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.turn, b.turn), cmp.Compare(a.order, b.order), a.NextRetryAt.Compare(b.NextRetryAt), cmp.Compare(a.ID, b.ID))
	})
	ids := make([]string, 0, min(limit, len(found)))
	for _, c := range found[:min(limit, len(found))] {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// CompleteWebhookDelivery records an attempt if its lease still holds. A
// success ends the endpoint's run of dead letters; a dead letter extends it,
// and the one that reaches gateway.WebhookDisableAfterDeadLetters disables
// the endpoint (audited). A dead letter reports no webhook of its own.
func (s *Store) CompleteWebhookDelivery(ctx context.Context, a gateway.WebhookAttempt) (gateway.WebhookAttemptResult, error) {
	var res gateway.WebhookAttemptResult
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*webhookDeliveryRow)(nil)).
			Set("status = ?", a.Status).
			Set("last_status_code = ?", a.StatusCode).
			Set("last_error = ?", a.Error).
			Set("next_retry_at = ?", a.NextRetryAt).
			Set("locked_by = NULL").
			Set("lease_expires_at = NULL").
			Set("updated_at = ?", a.At).
			Where("wd.id = ?", a.DeliveryID).
			Where("wd.locked_by = ?", a.FenceWorker).
			Where("wd.claim_count = ?", a.FenceClaim).
			Where("wd.status = ?", gateway.WebhookPending)
		if a.Status == gateway.WebhookSuccess {
			q = q.Set("delivered_at = ?", a.At)
		}
		var endpointIDs []string
		if err := q.Returning("endpoint_id").Scan(ctx, &endpointIDs); err != nil {
			return fmt.Errorf("error completing the webhook delivery: %w", err)
		}
		if len(endpointIDs) == 0 {
			return nil
		}
		res.Landed = true
		switch a.Status {
		case gateway.WebhookSuccess:
			_, err := tx.NewUpdate().Model((*webhookEndpointRow)(nil)).
				Set("consecutive_dead_letters = 0").
				Where("wh.id = ?", endpointIDs[0]).
				Where("wh.consecutive_dead_letters <> 0").
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("error resetting the endpoint's dead letters: %w", err)
			}
		case gateway.WebhookDeadLetter:
			var rows []webhookEndpointRow
			err := tx.NewUpdate().Model((*webhookEndpointRow)(nil)).
				Set("consecutive_dead_letters = wh.consecutive_dead_letters + 1").
				Where("wh.id = ?", endpointIDs[0]).
				Returning("*").
				Scan(ctx, &rows)
			if err != nil {
				return fmt.Errorf("error counting the endpoint's dead letters: %w", err)
			}
			if len(rows) == 0 || !rows[0].Enabled || rows[0].ConsecutiveDeadLetters < gateway.WebhookDisableAfterDeadLetters {
				return nil
			}
			reason := fmt.Sprintf("%d deliveries in a row were dead-lettered", rows[0].ConsecutiveDeadLetters)
			_, err = tx.NewUpdate().Model((*webhookEndpointRow)(nil)).
				Set("enabled = ?", false).
				Set("disabled_reason = ?", reason).
				Set("updated_at = ?", a.At).
				Where("wh.id = ?", endpointIDs[0]).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("error disabling the webhook endpoint: %w", err)
			}
			res.Disabled = true
			return insertAudit(ctx, tx, gateway.WebhookDisabledAudit(rows[0].domain(), reason, a.At))
		}
		return nil
	})
	return res, err
}
