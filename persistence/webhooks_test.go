package persistence_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

func webhookEndpoint(id, ws string, enabled bool, events ...gateway.WebhookEventType) gateway.WebhookEndpoint {
	return gateway.WebhookEndpoint{
		ID: id, WorkspaceID: ws, URL: "https://hooks.example/" + id, Events: events, Enabled: enabled,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime,
	}
}

// TestStoreWebhookDeliveries: a change writes one delivery per enabled,
// subscribed endpoint of its workspace, in its own transaction and once;
// deliveries are leased, fenced, retried, dead-lettered, re-driven, and an
// endpoint whose deliveries dead-letter five times in a row is disabled.
func TestStoreWebhookDeliveries(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		for _, e := range []gateway.WebhookEndpoint{
			webhookEndpoint("whk_a1", "ws", true, gateway.WebhookFeedbackReceived, gateway.WebhookJobFinished),
			webhookEndpoint("whk_a2", "ws", true, gateway.WebhookJobFinished),
			webhookEndpoint("whk_a3", "ws2", true, gateway.WebhookFeedbackReceived),
			webhookEndpoint("whk_a4", "ws", false, gateway.WebhookFeedbackReceived),
		} {
			require.NoError(t, store.InsertWebhookEndpoint(ctx, e, gateway.WebhookEndpointsPerWorkspaceMax, pt.Audit(e.ID)))
		}
		err := store.InsertWebhookEndpoint(ctx, webhookEndpoint("whk_a5", "ws", true, gateway.WebhookJobFinished), 3, pt.Audit("whk_a5"))
		var input *gateway.InputError
		require.ErrorAs(t, err, &input, "a workspace's endpoints are capped")

		ref := pt.Ref()
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		fb := gateway.MemoryFeedback{
			ID: "fb_1", WorkspaceID: "ws", UserID: "user", AgentID: "agent", Namespace: "team",
			MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackCorrection, Status: gateway.FeedbackReceived,
			HasCorrection: true, CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime,
		}
		for range 2 { // the second is a replay: nothing new
			_, _, err := store.SaveFeedback(ctx, fb, gateway.FeedbackContent{Correction: "the secret word is green"}, pt.Audit(ref.ID), nil)
			require.NoError(t, err)
		}
		page, err := store.ListWebhookDeliveries(ctx, gateway.WebhookDeliveryFilter{}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, page.Items, 1, "only the enabled endpoint of the workspace that subscribes")
		d := page.Items[0]
		require.Equal(t, gateway.WebhookDeliveryID("whk_a1", "feedback_received:fb_1"), d.ID)
		require.Equal(t, "whk_a1", d.EndpointID)
		require.Equal(t, gateway.WebhookPending, d.Status)
		require.Contains(t, d.Payload, `"feedbackId":"fb_1"`)
		require.NotContains(t, d.Payload, "green", "payloads hold ids and statuses, never content")

		now := pt.BaseTime.Add(time.Minute)
		lease := time.Minute
		claimed, err := store.ClaimWebhookDeliveries(ctx, "A", 10, now, now.Add(lease), gateway.WebhookShare{})
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.Equal(t, "https://hooks.example/whk_a1", claimed[0].URL)
		require.Equal(t, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, claimed[0].Secrets)
		require.Equal(t, 1, claimed[0].Delivery.AttemptCount)
		again, err := store.ClaimWebhookDeliveries(ctx, "B", 10, now, now.Add(lease), gateway.WebhookShare{})
		require.NoError(t, err)
		require.Empty(t, again, "a leased delivery is not claimed twice")

		attempt := func(worker string, claim int, status gateway.WebhookDeliveryStatus, at time.Time, next *time.Time) gateway.WebhookAttemptResult {
			t.Helper()
			code := 500
			msg := "the endpoint answered 500"
			if status == gateway.WebhookSuccess {
				code, msg = 200, ""
			}
			a := gateway.WebhookAttempt{DeliveryID: d.ID, FenceWorker: worker, FenceClaim: claim, Status: status, StatusCode: &code, NextRetryAt: next, At: at}
			if msg != "" {
				a.Error = &msg
			}
			res, err := store.CompleteWebhookDelivery(ctx, a)
			require.NoError(t, err)
			return res
		}
		require.False(t, attempt("B", 1, gateway.WebhookSuccess, now, nil).Landed, "not B's lease")
		retryAt := now.Add(time.Second)
		require.True(t, attempt("A", 1, gateway.WebhookPending, now, &retryAt).Landed)
		claimed, err = store.ClaimWebhookDeliveries(ctx, "B", 10, now, now.Add(lease), gateway.WebhookShare{})
		require.NoError(t, err)
		require.Empty(t, claimed, "not due before its retry time")

		later := now.Add(2 * time.Second)
		claimed, err = store.ClaimWebhookDeliveries(ctx, "B", 10, later, later.Add(lease), gateway.WebhookShare{})
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.Equal(t, 2, claimed[0].Delivery.AttemptCount)
		require.Equal(t, 2, claimed[0].Delivery.ClaimCount)

		// B stalls past its lease: the delivery is due again (at least once),
		// and B's late outcome does not land.
		expired := later.Add(lease + time.Second)
		claimed, err = store.ClaimWebhookDeliveries(ctx, "A", 10, expired, expired.Add(lease), gateway.WebhookShare{})
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.Equal(t, 3, claimed[0].Delivery.ClaimCount)
		require.False(t, attempt("B", 2, gateway.WebhookSuccess, expired, nil).Landed)

		// Dead letters in a row: the fifth disables the endpoint, audited.
		claim := 3
		for i := 1; i <= gateway.WebhookDisableAfterDeadLetters; i++ {
			res := attempt("A", claim, gateway.WebhookDeadLetter, expired, nil)
			require.True(t, res.Landed)
			require.Equal(t, i == gateway.WebhookDisableAfterDeadLetters, res.Disabled, "dead letter %d", i)
			got, err := store.WebhookDeliveriesByIDs(ctx, []string{d.ID})
			require.NoError(t, err)
			require.Equal(t, gateway.WebhookDeadLetter, got[0].Status)

			redriven, ok, err := store.RedriveWebhookDelivery(ctx, d.ID, expired, pt.Audit(d.ID))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, gateway.WebhookPending, redriven.Status)
			require.Zero(t, redriven.AttemptCount)
			_, ok, err = store.RedriveWebhookDelivery(ctx, d.ID, expired, pt.Audit(d.ID))
			require.NoError(t, err)
			require.False(t, ok, "only a dead letter is re-driven")

			claimed, err = store.ClaimWebhookDeliveries(ctx, "A", 10, expired, expired.Add(lease), gateway.WebhookShare{})
			require.NoError(t, err)
			if i == gateway.WebhookDisableAfterDeadLetters {
				require.Empty(t, claimed, "a disabled endpoint's deliveries wait")
				break
			}
			require.Len(t, claimed, 1)
			claim = claimed[0].Delivery.ClaimCount
		}
		endpoints, err := store.WebhookEndpointsByIDs(ctx, []string{"whk_a1"})
		require.NoError(t, err)
		require.False(t, endpoints[0].Enabled)
		require.NotNil(t, endpoints[0].DisabledReason)
		require.True(t, strings.Contains(*endpoints[0].DisabledReason, "5 deliveries in a row"))
		audits, err := store.ListAuditEntries(ctx, gateway.AuditFilter{Action: gateway.AuditActionWebhookDisable}, gateway.PageRequest{First: 5})
		require.NoError(t, err)
		require.Len(t, audits.Items, 1)
		require.Equal(t, "whk_a1", audits.Items[0].TargetID)

		// Deleting an endpoint takes its deliveries with it.
		require.NoError(t, store.DeleteWebhookEndpoint(ctx, "whk_a1", pt.Audit("whk_a1")))
		page, err = store.ListWebhookDeliveries(ctx, gateway.WebhookDeliveryFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Empty(t, page.Items)
	})
}

// TestStoreDeletesFinishedWebhookDeliveries: retention deletes deliveries
// that succeeded or dead-lettered before the window, never pending ones,
// and only in the workspaces it is given.
func TestStoreDeletesFinishedWebhookDeliveries(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		require.NoError(t, store.InsertWebhookEndpoint(ctx, webhookEndpoint("whk_r1", "ws", true, gateway.WebhookFeedbackReceived), 10, pt.Audit("whk_r1")))
		ref := pt.Ref()
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		for i, status := range []gateway.WebhookDeliveryStatus{gateway.WebhookSuccess, gateway.WebhookDeadLetter, gateway.WebhookPending} {
			fb := gateway.MemoryFeedback{
				ID: fmt.Sprintf("fb_r%d", i), WorkspaceID: "ws", UserID: "user", AgentID: "agent", Namespace: "team",
				MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackHelpful, Status: gateway.FeedbackReceived,
				CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime,
			}
			_, _, err := store.SaveFeedback(ctx, fb, gateway.FeedbackContent{}, pt.Audit(ref.ID), nil)
			require.NoError(t, err)
			if status == gateway.WebhookPending {
				continue
			}
			claimed, err := store.ClaimWebhookDeliveries(ctx, "w", 1, pt.BaseTime, pt.BaseTime.Add(time.Minute), gateway.WebhookShare{})
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			res, err := store.CompleteWebhookDelivery(ctx, gateway.WebhookAttempt{DeliveryID: claimed[0].Delivery.ID, FenceWorker: "w",
				FenceClaim: claimed[0].Delivery.ClaimCount, Status: status, At: pt.BaseTime})
			require.NoError(t, err)
			require.True(t, res.Landed)
		}
		n, err := store.DeleteFinishedWebhookDeliveries(ctx, gateway.WorkspaceSet{Only: "other"}, pt.BaseTime.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Zero(t, n, "another workspace's window")
		n, err = store.DeleteFinishedWebhookDeliveries(ctx, gateway.WorkspaceSet{Only: "ws"}, pt.BaseTime, 10)
		require.NoError(t, err)
		require.Zero(t, n, "nothing finished before the window")
		n, err = store.DeleteFinishedWebhookDeliveries(ctx, gateway.WorkspaceSet{Except: []string{"other"}}, pt.BaseTime.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		page, err := store.ListWebhookDeliveries(ctx, gateway.WebhookDeliveryFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, gateway.WebhookPending, page.Items[0].Status, "a pending delivery is never deleted")
	})
}

// seedTurns writes, per workspace in order, n deliveries to an endpoint of
// its own, each a second younger than the one before; it returns the label
// ("<workspace><n>") of each delivery by its creation time.
func seedTurns(t *testing.T, store *persistence.Store, workspaces []string, n map[string]int) map[time.Time]string {
	t.Helper()
	ctx := context.Background()
	label := map[time.Time]string{}
	at := pt.BaseTime
	for _, ws := range workspaces {
		require.NoError(t, store.InsertWebhookEndpoint(ctx, webhookEndpoint("whk_"+ws, ws, true, gateway.WebhookFeedbackReceived), 10, pt.Audit(ws)))
		ref := pt.Ref(func(r *gateway.MemoryRef) { r.WorkspaceID = ws })
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		for i := range n[ws] {
			at = at.Add(time.Second)
			label[at] = fmt.Sprintf("%s%d", ws, i+1)
			fb := gateway.MemoryFeedback{ID: "fb_" + label[at], WorkspaceID: ws, UserID: ref.UserID, AgentID: ref.AgentID, Namespace: ref.Namespace,
				MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackHelpful, Status: gateway.FeedbackReceived, CreatedAt: at, UpdatedAt: at}
			_, _, err := store.SaveFeedback(ctx, fb, gateway.FeedbackContent{}, pt.Audit(ref.ID), nil)
			require.NoError(t, err)
		}
	}
	return label
}

// claimLabels claims as worker A at pt.BaseTime plus an hour and returns the
// labels of what it got.
func claimLabels(t *testing.T, store *persistence.Store, label map[time.Time]string, limit int, share gateway.WebhookShare) []string {
	t.Helper()
	now := pt.BaseTime.Add(time.Hour)
	claimed, err := store.ClaimWebhookDeliveries(context.Background(), "A", limit, now, now.Add(time.Minute), share)
	require.NoError(t, err)
	var got []string
	for _, c := range claimed {
		got = append(got, label[c.Delivery.CreatedAt])
	}
	return got
}

// TestStoreClaimsWebhookDeliveriesInTurns: a claim takes due deliveries in
// turns across workspaces — each workspace's oldest first, one workspace's
// first before another's second — not the oldest over all, and none of a
// workspace whose deliveries in flight at the sender reach the cap.
func TestStoreClaimsWebhookDeliveriesInTurns(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		store := persistence.NewStore(db)
		// The slow workspace's deliveries are the oldest: taken oldest
		// first, they would fill every sender.
		label := seedTurns(t, store, []string{"slow", "fast", "other"}, map[string]int{"slow": 5, "fast": 2, "other": 1})
		claim := func(limit int, share gateway.WebhookShare) []string {
			t.Helper()
			return claimLabels(t, store, label, limit, share)
		}
		require.ElementsMatch(t, []string{"slow1", "fast1", "other1", "slow2"}, claim(4, gateway.WebhookShare{PerWorkspace: 2}),
			"every workspace's first, then the oldest second")
		require.Equal(t, []string{"fast2"}, claim(10, gateway.WebhookShare{PerWorkspace: 2, InFlight: map[string]int{"slow": 2, "fast": 1, "other": 1}}),
			"the slow workspace is at its cap")
		require.Equal(t, []string{"slow3"}, claim(10, gateway.WebhookShare{PerWorkspace: 2, InFlight: map[string]int{"slow": 1, "fast": 2}}),
			"one of the slow workspace's ended: one more")
		require.ElementsMatch(t, []string{"slow4", "slow5"}, claim(10, gateway.WebhookShare{}), "no cap: the rest")
	})
}

// TestStoreClaimsWebhookTurnsPastIdleWorkspaces: workspaces are read a few
// at a time, those with fewer deliveries in flight first; one whose pending
// deliveries cannot go (its endpoint is disabled) gives no turn, and the
// claim reads on rather than give a second turn to a workspace ahead of
// another's first.
func TestStoreClaimsWebhookTurnsPastIdleWorkspaces(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		label := seedTurns(t, store, []string{"idle", "busy", "next", "last"}, map[string]int{"idle": 3, "busy": 3, "next": 1, "last": 1})
		_, err := store.UpdateWebhookEndpoint(ctx, "whk_idle", func(e *gateway.WebhookEndpoint) (gateway.AuditEntry, error) {
			e.Enabled = false
			return pt.Audit(e.ID), nil
		})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"busy1", "next1"}, claimLabels(t, store, label, 2, gateway.WebhookShare{PerWorkspace: 4}),
			"the idle workspace, read first, gives nothing; the next one's first goes before busy's second")
		require.ElementsMatch(t, []string{"last1", "busy2"}, claimLabels(t, store, label, 2, gateway.WebhookShare{PerWorkspace: 4, InFlight: map[string]int{"busy": 1, "next": 1}}),
			"fewer in flight first")
	})
}

// TestStoreRewritesWebhookErrorsOfBefore: the errors failed attempts
// recorded before they were made coarse — a connection refused at an
// address, a status code, a refusal that said what the name resolved to —
// read as the API tells them now; a success keeps its status.
func TestStoreRewritesWebhookErrorsOfBefore(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := persistence.Open(ctx, pt.URL(t, d))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			require.NoError(t, db.MigrateThrough(ctx, "20261207000012"))
			store := persistence.NewStore(db)

			type before struct {
				status gateway.WebhookDeliveryStatus
				code   int
				err    string
			}
			old := map[string]before{
				"whk_dial":    {gateway.WebhookPending, 0, "dial tcp 10.0.0.5:8080: connect: connection refused"},
				"whk_status":  {gateway.WebhookDeadLetter, 500, "the endpoint answered 500"},
				"whk_refused": {gateway.WebhookPending, 0, "destination internal.test refused: a private address not in WEBHOOK_ALLOW_HOSTS"},
				"whk_ok":      {gateway.WebhookSuccess, 204, ""},
			}
			for id := range old {
				require.NoError(t, store.InsertWebhookEndpoint(ctx, webhookEndpoint(id, "ws", true, gateway.WebhookFeedbackReceived), 10, pt.Audit(id)))
			}
			ref := pt.Ref()
			require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
			fb := gateway.MemoryFeedback{ID: "fb_old", WorkspaceID: "ws", UserID: ref.UserID, AgentID: ref.AgentID, Namespace: ref.Namespace,
				MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackHelpful, Status: gateway.FeedbackReceived, CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime}
			_, _, err = store.SaveFeedback(ctx, fb, gateway.FeedbackContent{}, pt.Audit(ref.ID), nil)
			require.NoError(t, err)
			claimed, err := store.ClaimWebhookDeliveries(ctx, "A", 10, pt.BaseTime, pt.BaseTime.Add(time.Minute), gateway.WebhookShare{})
			require.NoError(t, err)
			require.Len(t, claimed, len(old))
			for _, c := range claimed {
				b := old[c.Delivery.EndpointID]
				a := gateway.WebhookAttempt{DeliveryID: c.Delivery.ID, FenceWorker: "A", FenceClaim: c.Delivery.ClaimCount, Status: b.status, At: pt.BaseTime}
				if b.code != 0 {
					a.StatusCode = &b.code
				}
				if b.err != "" {
					a.Error = &b.err
				}
				if b.status == gateway.WebhookPending {
					next := pt.BaseTime.Add(time.Hour)
					a.NextRetryAt = &next
				}
				res, err := store.CompleteWebhookDelivery(ctx, a)
				require.NoError(t, err)
				require.True(t, res.Landed)
			}

			require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
			want := map[string]struct {
				code *int
				err  *string
			}{
				"whk_dial":    {nil, ptr("could not deliver: no 2xx response")},
				"whk_status":  {nil, ptr("could not deliver: no 2xx response")},
				"whk_refused": {nil, ptr("destination refused: internal.test does not resolve to an address webhooks may reach")},
				"whk_ok":      {ptr(204), nil},
			}
			page, err := store.ListWebhookDeliveries(ctx, gateway.WebhookDeliveryFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 10})
			require.NoError(t, err)
			require.Len(t, page.Items, len(want))
			for _, del := range page.Items {
				w := want[del.EndpointID]
				require.Equal(t, w.code, del.LastStatusCode, del.EndpointID)
				require.Equal(t, w.err, del.LastError, del.EndpointID)
				require.Equal(t, old[del.EndpointID].status, del.Status, del.EndpointID)
			}
		})
	}
}
