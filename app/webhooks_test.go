package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// receivedHook is one request a receiver got.
type receivedHook struct {
	ID       string
	Verified error
	Status   int
	Body     struct {
		Type string
		Data map[string]any
	}
	Raw string
}

// hookReceiver is an endpoint on loopback that verifies every request with
// the Standard Webhooks library (an implementation independent of the
// gateway's) and answers what answer says.
type hookReceiver struct {
	srv *httptest.Server

	mu     sync.Mutex
	secret string
	answer func(n int, id string) int
	got    []receivedHook
	signal chan struct{}
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	r := &hookReceiver{answer: func(int, string) int { return http.StatusOK }, signal: make(chan struct{}, 1024)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		h := receivedHook{ID: req.Header.Get("webhook-id"), Raw: string(raw)}
		wh, err := standardwebhooks.NewWebhook(r.secret)
		if err == nil {
			err = wh.Verify(raw, req.Header)
		}
		h.Verified = err
		_ = json.Unmarshal(raw, &h.Body)
		h.Status = r.answer(len(r.got), h.ID)
		r.got = append(r.got, h)
		r.mu.Unlock()
		w.WriteHeader(h.Status)
		r.signal <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *hookReceiver) setAnswer(f func(n int, id string) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

func (r *hookReceiver) received() []receivedHook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedHook(nil), r.got...)
}

// waitFor waits, request by request, until cond holds of what arrived.
func (r *hookReceiver) waitFor(t *testing.T, what string, cond func([]receivedHook) bool) []receivedHook {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		if got := r.received(); cond(got) {
			return got
		}
		select {
		case <-r.signal:
		case <-timeout:
			var types []string
			for _, h := range r.received() {
				types = append(types, h.Body.Type+" "+fmt.Sprint(h.Body.Data["status"], h.Body.Data["kind"]))
			}
			t.Fatalf("timed out waiting for %s; received %d requests: %v", what, len(types), types)
		}
	}
}

// webhookServer runs serve with webhooks reaching loopback, a compressed
// retry schedule (two retries, each due the delay after the failed
// attempt's timeout) and a fast poll.
func webhookServer(t *testing.T, d pt.Dialect) string {
	t.Helper()
	return startServerWith(t, map[string]string{
		"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t),
		"WEBHOOK_ALLOW_HOSTS": "127.0.0.1", "WEBHOOK_RETRY_SCHEDULE": "20ms,20ms", "WEBHOOK_POLL_INTERVAL": "10ms",
		"WEBHOOK_TIMEOUT": "2s",
	})
}

func createEndpoint(t *testing.T, base, url string, events ...string) (id, secret string) {
	t.Helper()
	data := gqlData(t, base, adminKeyB, `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { endpoint { id enabled events } secret } }`,
		map[string]any{"in": map[string]any{"workspaceId": "globex", "url": url, "events": events, "description": "test receiver"}})
	p := data["createWebhookEndpoint"].(map[string]any)
	return p["endpoint"].(map[string]any)["id"].(string), p["secret"].(string)
}

// commitGlobex ingests a turn into a new globex session and commits it; it
// returns the commit's job id.
func commitGlobex(t *testing.T, base, session string) string {
	t.Helper()
	gqlData(t, base, adminKeyB, `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status } }`, map[string]any{"in": map[string]any{
		"workspaceId": "globex", "userId": "bob", "agentId": "ops", "sessionId": session, "turnId": "t1", "namespace": "ops", "role": "USER",
		"content": "my locker code is the same as my birthday",
	}})
	data := gqlData(t, base, adminKeyB, `mutation($in: CommitSessionInput!) { commitSession(input: $in) { job { id } } }`, map[string]any{"in": map[string]any{
		"workspaceId": "globex", "userId": "bob", "agentId": "ops", "sessionId": session, "namespace": "ops",
	}})
	return data["commitSession"].(map[string]any)["job"].(map[string]any)["id"].(string)
}

type deliveryView struct {
	ID             string
	Status         string
	AttemptCount   int
	LastStatusCode *int
	LastError      *string
	DeliveredAt    *string
	EventType      string
	Endpoint       struct{ ID string }
}

func delivery(t *testing.T, base, id string) deliveryView {
	t.Helper()
	data := gqlData(t, base, adminKeyB, `query($id: ID!) { node(id: $id) { ... on WebhookDelivery { id status attemptCount lastStatusCode lastError deliveredAt eventType endpoint { id } } } }`,
		map[string]any{"id": id})
	raw, _ := json.Marshal(data["node"])
	var v deliveryView
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

func waitDeliveryStatus(t *testing.T, base, id, want string) deliveryView {
	t.Helper()
	var v deliveryView
	require.Eventually(t, func() bool {
		v = delivery(t, base, id)
		return v.Status == want
	}, 30*time.Second, 10*time.Millisecond, "delivery %s never became %s", id, want)
	return v
}

// TestWebhooksDeliverSignedAndRetry: a finished job reaches the endpoint
// signed (verified by the Standard Webhooks library); after two 5xx answers
// the third attempt carries the same webhook-id and succeeds; the payload
// holds ids and statuses, never content.
func TestWebhooksDeliverSignedAndRetry(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := webhookServer(t, d)
			recv := newHookReceiver(t)
			recv.setAnswer(func(n int, _ string) int {
				if n < 2 {
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			endpointID, secret := createEndpoint(t, base, recv.srv.URL+"/hooks?token=abc", "JOB_FINISHED")
			require.True(t, strings.HasPrefix(endpointID, "whk_"))
			require.True(t, strings.HasPrefix(secret, "whsec_"))
			recv.setSecret(secret)

			jobID := commitGlobex(t, base, "s-retry")
			got := recv.waitFor(t, "a delivered job", func(h []receivedHook) bool {
				return len(h) > 0 && h[len(h)-1].Status == http.StatusOK
			})
			require.Len(t, got, 3, "two 503s, then success")
			for _, h := range got {
				require.NoError(t, h.Verified, "signature verifies")
				require.Equal(t, got[0].ID, h.ID, "the same webhook-id on every retry")
				require.Equal(t, "JOB_FINISHED", h.Body.Type)
				require.Equal(t, jobID, h.Body.Data["jobId"])
				require.Equal(t, "SUCCESS", h.Body.Data["status"])
				require.NotContains(t, h.Raw, "locker", "no content in a payload")
			}
			v := waitDeliveryStatus(t, base, got[0].ID, "SUCCESS")
			require.Equal(t, 3, v.AttemptCount)
			require.Equal(t, 200, *v.LastStatusCode)
			require.NotNil(t, v.DeliveredAt)
			require.Equal(t, endpointID, v.Endpoint.ID)
			require.Equal(t, "JOB_FINISHED", v.EventType)

			// The list shows it, filtered.
			data := gqlData(t, base, adminKeyB, `query($f: WebhookDeliveryFilter) { webhookDeliveries(filter: $f, first: 10) { edges { node { id status } } } }`,
				map[string]any{"f": map[string]any{"endpointId": endpointID, "status": "SUCCESS", "eventType": "JOB_FINISHED"}})
			edges := data["webhookDeliveries"].(map[string]any)["edges"].([]any)
			require.Len(t, edges, 1)

			// The metrics count the attempts by outcome.
			resp := getMetrics(t, base)
			metrics, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Contains(t, string(metrics), `memory_gateway_webhook_deliveries_total{outcome="retry"} 2`)
			require.Contains(t, string(metrics), `memory_gateway_webhook_deliveries_total{outcome="success"} 1`)
			require.Contains(t, string(metrics), "memory_gateway_webhook_delivery_latency_seconds_count 1")
		})
	}
}

// TestWebhooksDeadLetterRedriveAndDisable: a delivery every attempt of which
// fails is dead-lettered and can be re-driven (same webhook-id); five dead
// letters in a row disable the endpoint, audited, and a disabled endpoint
// gets no new deliveries. No ordering between deliveries is assumed.
func TestWebhooksDeadLetterRedriveAndDisable(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := webhookServer(t, d)
			recv := newHookReceiver(t)
			recv.setAnswer(func(int, string) int { return http.StatusInternalServerError })
			endpointID, secret := createEndpoint(t, base, recv.srv.URL, "JOB_FINISHED")
			recv.setSecret(secret)

			commitGlobex(t, base, "s-dead-0")
			got := recv.waitFor(t, "three failed attempts", func(h []receivedHook) bool { return len(h) >= 3 })
			first := got[0].ID
			v := waitDeliveryStatus(t, base, first, "DEAD_LETTER")
			require.Equal(t, 3, v.AttemptCount, "the first attempt and two retries")
			require.Nil(t, v.LastStatusCode, "a failure's status is not shown")
			require.Equal(t, "could not deliver: no 2xx response", *v.LastError, "nor what answered")

			recv.setAnswer(func(int, string) int { return http.StatusNoContent })
			data := gqlData(t, base, adminKeyB, `mutation($id: ID!) { redriveWebhookDelivery(id: $id) { id status attemptCount } }`, map[string]any{"id": first})
			require.Equal(t, "PENDING", data["redriveWebhookDelivery"].(map[string]any)["status"])
			recv.waitFor(t, "the re-driven delivery", func(h []receivedHook) bool { return h[len(h)-1].Status == http.StatusNoContent })
			require.Equal(t, first, recv.received()[len(recv.received())-1].ID, "a re-drive keeps the webhook-id")
			waitDeliveryStatus(t, base, first, "SUCCESS")
			status, out := call(t, base, adminKeyB, `mutation($id: ID!) { redriveWebhookDelivery(id: $id) { id } }`, map[string]any{"id": first})
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "BAD_USER_INPUT", errorCode(out), "only a dead letter is re-driven")

			// Five in a row, in any order, disable the endpoint.
			recv.setAnswer(func(int, string) int { return http.StatusBadGateway })
			ids := map[string]bool{}
			for i := range 5 {
				commitGlobex(t, base, fmt.Sprintf("s-dead-%d", i+1))
			}
			recv.waitFor(t, "five deliveries failing three times each", func(h []receivedHook) bool {
				n := map[string]int{}
				for _, x := range h {
					if x.Status == http.StatusBadGateway {
						n[x.ID]++
					}
				}
				done := 0
				for id, c := range n {
					ids[id] = true
					if c == 3 {
						done++
					}
				}
				return done == 5
			})
			for id := range ids {
				waitDeliveryStatus(t, base, id, "DEAD_LETTER")
			}
			var endpoint map[string]any
			require.Eventually(t, func() bool {
				data := gqlData(t, base, adminKeyB, `{ webhookEndpoints(workspaceId: "globex") { id enabled disabledReason } }`, nil)
				endpoint = data["webhookEndpoints"].([]any)[0].(map[string]any)
				return endpoint["enabled"] == false
			}, 30*time.Second, 10*time.Millisecond)
			require.Equal(t, endpointID, endpoint["id"])
			require.Contains(t, endpoint["disabledReason"], "5 deliveries in a row")
			data = gqlData(t, base, adminKeyB, `{ auditLog(filter: {workspaceId: "globex", action: "disable_webhook_endpoint"}) { edges { node { targetId } } } }`, nil)
			require.Len(t, data["auditLog"].(map[string]any)["edges"].([]any), 1)

			before := len(gqlData(t, base, adminKeyB, `{ webhookDeliveries(first: 100) { edges { node { id } } } }`, nil)["webhookDeliveries"].(map[string]any)["edges"].([]any))
			job := commitGlobex(t, base, "s-after-disable")
			waitJobStatusAs(t, base, adminKeyB, job, "SUCCESS")
			after := len(gqlData(t, base, adminKeyB, `{ webhookDeliveries(first: 100) { edges { node { id } } } }`, nil)["webhookDeliveries"].(map[string]any)["edges"].([]any))
			require.Equal(t, before, after, "a disabled endpoint gets no new deliveries")

			// Enabling it again clears the reason.
			data = gqlData(t, base, adminKeyB, `mutation($in: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $in) { endpoint { enabled disabledReason } } }`,
				map[string]any{"in": map[string]any{"id": endpointID, "enabled": true}})
			e := data["updateWebhookEndpoint"].(map[string]any)["endpoint"].(map[string]any)
			require.Equal(t, true, e["enabled"])
			require.Nil(t, e["disabledReason"])
		})
	}
}

func waitJobStatusAs(t *testing.T, base, key, jobID, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		data := gqlData(t, base, key, `query($id: ID!) { commitJob(id: $id) { status } }`, map[string]any{"id": jobID})
		return data["commitJob"].(map[string]any)["status"] == want
	}, 30*time.Second, 10*time.Millisecond)
}

// TestWebhookEndpointAdministration: admin only and per workspace; URLs that
// resolve to private or link-local addresses are refused at creation (the
// allow list admits loopback here, never link-local); the secret is shown
// once and rotated; updates and deletes.
func TestWebhookEndpointAdministration(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t),
				"WEBHOOK_ALLOW_HOSTS": "127.0.0.1,169.254.0.0/16",
			})
			create := `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { endpoint { id } secret } }`
			in := func(ws, url string) map[string]any {
				return map[string]any{"in": map[string]any{"workspaceId": ws, "url": url, "events": []string{"JOB_FINISHED"}}}
			}
			for _, tc := range []struct {
				name, key, ws, url, code, field string
			}{
				{"a dashboard key", dashKeyA, "acme", "http://127.0.0.1:9/h", "FORBIDDEN", ""},
				{"an agent key", agentKeyA, "acme", "http://127.0.0.1:9/h", "FORBIDDEN", ""},
				{"another workspace's admin", adminKeyB, "acme", "http://127.0.0.1:9/h", "NOT_FOUND", "input.workspaceId"},
				{"a private address", adminKeyB, "globex", "http://10.0.0.1/h", "BAD_USER_INPUT", "input.url"},
				{"a private IPv6 address", adminKeyB, "globex", "http://[fd00::1]/h", "BAD_USER_INPUT", "input.url"},
				{"the metadata service, though allowed", adminKeyB, "globex", "http://169.254.169.254/latest/meta-data", "BAD_USER_INPUT", "input.url"},
				{"loopback not in the list", adminKeyB, "globex", "http://127.0.0.2/h", "BAD_USER_INPUT", "input.url"},
				{"not http", adminKeyB, "globex", "ftp://127.0.0.1/h", "BAD_USER_INPUT", "input.url"},
				{"credentials in the URL", adminKeyB, "globex", "http://user:pw@127.0.0.1/h", "BAD_USER_INPUT", "input.url"},
			} {
				status, out := call(t, base, tc.key, create, in(tc.ws, tc.url))
				require.Equal(t, http.StatusOK, status, tc.name)
				require.Equal(t, tc.code, errorCode(out), "%s: %v", tc.name, out)
				if tc.field != "" {
					ext := out["errors"].([]any)[0].(map[string]any)["extensions"].(map[string]any)
					require.Equal(t, tc.field, ext["field"], tc.name)
				}
			}
			status, out := call(t, base, adminKeyB, create, map[string]any{"in": map[string]any{"workspaceId": "globex", "url": "http://127.0.0.1:9/h", "events": []string{}}})
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "BAD_USER_INPUT", errorCode(out), "no event types")

			data := gqlData(t, base, adminKeyB, create, in("globex", "http://127.0.0.1:9/h"))
			id := data["createWebhookEndpoint"].(map[string]any)["endpoint"].(map[string]any)["id"].(string)
			secret := data["createWebhookEndpoint"].(map[string]any)["secret"].(string)
			data = gqlData(t, base, operatorKey, create, in("globex", "http://127.0.0.1:9/other"))
			require.NotEmpty(t, data["createWebhookEndpoint"].(map[string]any)["endpoint"].(map[string]any)["id"], "the operator administers every workspace")

			// Reads never show the secret; other workspaces never see the endpoint.
			status, out = call(t, base, adminKeyB, `query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { url events enabled } } }`, map[string]any{"id": id})
			require.Equal(t, http.StatusOK, status)
			raw, _ := json.Marshal(out)
			require.NotContains(t, string(raw), secret)
			require.Equal(t, id, out["data"].(map[string]any)["node"].(map[string]any)["id"])
			_, out = call(t, base, dashKeyA, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
			require.Nil(t, out["data"].(map[string]any)["node"], "not visible to another workspace")
			status, out = call(t, base, dashKeyA, `{ webhookEndpoints(workspaceId: "globex") { id } }`, nil)
			require.Equal(t, http.StatusOK, status)
			require.NotEmpty(t, errorCode(out))

			data = gqlData(t, base, adminKeyB, `mutation($id: ID!) { rotateWebhookSecret(id: $id) }`, map[string]any{"id": id})
			rotated := data["rotateWebhookSecret"].(string)
			require.True(t, strings.HasPrefix(rotated, "whsec_"))
			require.NotEqual(t, secret, rotated)

			data = gqlData(t, base, adminKeyB, `mutation($in: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $in) { endpoint { url events enabled description } } }`,
				map[string]any{"in": map[string]any{"id": id, "events": []string{"FEEDBACK_RECEIVED", "JOB_FINISHED", "JOB_FINISHED"}, "enabled": false, "description": "paused"}})
			e := data["updateWebhookEndpoint"].(map[string]any)["endpoint"].(map[string]any)
			require.Equal(t, []any{"JOB_FINISHED", "FEEDBACK_RECEIVED"}, e["events"])
			require.Equal(t, false, e["enabled"])
			require.Equal(t, "paused", e["description"])
			status, out = call(t, base, adminKeyB, `mutation($in: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $in) { endpoint { id } } }`,
				map[string]any{"in": map[string]any{"id": id, "url": "http://10.1.1.1/h"}})
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "BAD_USER_INPUT", errorCode(out), "an update is checked too")

			data = gqlData(t, base, adminKeyB, `mutation($in: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $in) { id } }`, map[string]any{"in": map[string]any{"id": id}})
			require.Equal(t, id, data["deleteWebhookEndpoint"].(map[string]any)["id"])
			_, out = call(t, base, adminKeyB, `mutation($in: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $in) { id } }`, map[string]any{"in": map[string]any{"id": id}})
			require.Equal(t, "NOT_FOUND", errorCode(out))

			data = gqlData(t, base, adminKeyB, `{ auditLog(filter: {workspaceId: "globex", targetType: "webhook_endpoint"}) { edges { node { action } } } }`, nil)
			actions := map[string]bool{}
			for _, e := range data["auditLog"].(map[string]any)["edges"].([]any) {
				actions[e.(map[string]any)["node"].(map[string]any)["action"].(string)] = true
			}
			for _, a := range []string{"create_webhook_endpoint", "rotate_webhook_secret", "update_webhook_endpoint", "delete_webhook_endpoint"} {
				require.True(t, actions[a], "audited: %s", a)
			}
		})
	}
}

// TestWebhooksReportEveryKindOfChange: each event type is written by the
// change it reports — a job that finished, an outbox event out of attempts,
// feedback recorded, a memory deleted by accepted feedback (and the routing
// job), an erasure that ended — each signed, with ids and statuses only.
func TestWebhooksReportEveryKindOfChange(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			em := evermemostest.New()
			t.Cleanup(em.Close)
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t), "EVERMEMOS_URL": em.URL, "OUTBOX_MAX_ATTEMPTS": "1",
				"WEBHOOK_ALLOW_HOSTS": "127.0.0.1", "WEBHOOK_RETRY_SCHEDULE": "20ms", "WEBHOOK_POLL_INTERVAL": "10ms",
				// An erasure starts once the longest ingest could have landed.
				"BACKEND_TIMEOUT": "500ms", "EVERMEMOS_TIMEOUT": "500ms", "OPENVIKING_TIMEOUT": "500ms", "WORKER_POLL_INTERVAL": "50ms",
			})
			recv := newHookReceiver(t)
			_, secret := createEndpoint(t, base, recv.srv.URL, "JOB_FINISHED", "OUTBOX_EVENT_DEAD_LETTERED", "FEEDBACK_RECEIVED",
				"MEMORY_SUPERSEDED", "MEMORY_DELETED", "ERASURE_FINISHED")
			recv.setSecret(secret)

			ok := commitGlobex(t, base, "s-ok")
			waitJobStatusAs(t, base, adminKeyB, ok, "SUCCESS")
			em.Faults.FailNextOn(http.MethodPost, "/api/v1/memories/flush", 1, http.StatusBadRequest, `{"code":"INVALID","message":"refused"}`)
			partial := commitGlobex(t, base, "s-partial")
			waitJobStatusAs(t, base, adminKeyB, partial, "PARTIAL_SUCCESS")

			refs := gqlData(t, base, adminKeyB, `{ memoryRefs(filter: {workspaceId: "globex", sessionId: "s-ok", backend: LOCAL, refType: LONG_TERM_MEMORY}) { edges { node { id } } } }`, nil)
			refID := refs["memoryRefs"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
			fb := gqlData(t, base, adminKeyB, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id } } }`, map[string]any{"in": map[string]any{
				"workspaceId": "globex", "userId": "bob", "agentId": "ops", "namespace": "ops", "memoryRefId": refID,
				"feedbackType": "DELETE_REQUEST", "comment": "please forget my locker code", "sourceEventId": "forget-1",
			}})
			fbID := fb["recordMemoryFeedback"].(map[string]any)["feedback"].(map[string]any)["id"].(string)
			gqlData(t, base, adminKeyB, `mutation($id: ID!) { reviewMemoryFeedback(input: {id: $id, decision: ACCEPT}) { feedback { id } } }`, map[string]any{"id": fbID})

			refs = gqlData(t, base, adminKeyB, `{ memoryRefs(filter: {workspaceId: "globex", sessionId: "s-partial", backend: LOCAL, refType: LONG_TERM_MEMORY}) { edges { node { id } } } }`, nil)
			correctedID := refs["memoryRefs"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
			fb = gqlData(t, base, adminKeyB, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id } } }`, map[string]any{"in": map[string]any{
				"workspaceId": "globex", "userId": "bob", "agentId": "ops", "namespace": "ops", "memoryRefId": correctedID,
				"feedbackType": "CORRECTION", "correction": "my locker code changed", "sourceEventId": "fix-1",
			}})
			gqlData(t, base, adminKeyB, `mutation($id: ID!) { reviewMemoryFeedback(input: {id: $id, decision: ACCEPT}) { feedback { id } } }`,
				map[string]any{"id": fb["recordMemoryFeedback"].(map[string]any)["feedback"].(map[string]any)["id"]})

			erasure := gqlData(t, base, adminKeyB, `mutation { eraseSubject(input: {workspaceId: "globex", userId: "carol", reason: "asked"}) { request { id } } }`, nil)
			erasureID := erasure["eraseSubject"].(map[string]any)["request"].(map[string]any)["id"].(string)

			byType := func(h []receivedHook) map[string][]receivedHook {
				out := map[string][]receivedHook{}
				for _, x := range h {
					out[x.Body.Type] = append(out[x.Body.Type], x)
				}
				return out
			}
			got := byType(recv.waitFor(t, "every kind of change", func(h []receivedHook) bool {
				seen := byType(h)
				return len(seen["JOB_FINISHED"]) >= 5 && len(seen["OUTBOX_EVENT_DEAD_LETTERED"]) >= 1 && len(seen["FEEDBACK_RECEIVED"]) >= 2 &&
					len(seen["MEMORY_DELETED"]) >= 1 && len(seen["MEMORY_SUPERSEDED"]) >= 1 && len(seen["ERASURE_FINISHED"]) >= 1
			}))
			for _, hooks := range got {
				for _, h := range hooks {
					require.NoError(t, h.Verified)
					require.NotContains(t, h.Raw, "locker", "no content in a payload")
				}
			}
			jobs := map[string]map[string]any{}
			for _, h := range got["JOB_FINISHED"] {
				jobs[h.Body.Data["jobId"].(string)] = h.Body.Data
			}
			require.Equal(t, "SUCCESS", jobs[ok]["status"])
			require.Equal(t, "COMMIT", jobs[ok]["kind"])
			require.Equal(t, "s-ok", jobs[ok]["sessionId"])
			require.Equal(t, "PARTIAL_SUCCESS", jobs[partial]["status"])
			kinds := map[any]bool{}
			for _, j := range jobs {
				kinds[j["kind"]] = true
			}
			require.True(t, kinds["FEEDBACK_ROUTING"] && kinds["ERASURE"], "every kind of job: %v", kinds)

			dead := got["OUTBOX_EVENT_DEAD_LETTERED"][0].Body.Data
			require.Equal(t, "EVERMEMOS", dead["backend"])
			require.Equal(t, partial, dead["jobId"])
			received := map[any]any{}
			for _, h := range got["FEEDBACK_RECEIVED"] {
				received[h.Body.Data["feedbackId"]] = h.Body.Data["feedbackType"]
			}
			require.Equal(t, "DELETE_REQUEST", received[fbID])
			superseded := map[any]any{}
			for _, h := range got["MEMORY_SUPERSEDED"] {
				superseded[h.Body.Data["memoryRefId"]] = h.Body.Data["supersededByRefId"]
			}
			require.NotEmpty(t, superseded[correctedID], "the corrected memory, linked to its replacement")
			deleted := map[any]bool{}
			for _, h := range got["MEMORY_DELETED"] {
				require.Equal(t, "DELETED", h.Body.Data["status"])
				deleted[h.Body.Data["memoryRefId"]] = true
			}
			require.True(t, deleted[refID], "one per ref retired, the named one among them")
			require.Equal(t, erasureID, got["ERASURE_FINISHED"][0].Body.Data["erasureRequestId"])
			require.Len(t, got["ERASURE_FINISHED"], 1, "one per erasure request")
		})
	}
}

// TestWebhookAttemptInFlightShowsNothing: while a sender waits on an
// endpoint, the delivery reads exactly as before the attempt (no attempt
// counted, no error, the same due time): watching it says nothing of how
// long an attempt takes, which would tell a port that never answers from
// one that refuses at once.
func TestWebhookAttemptInFlightShowsNothing(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := webhookServer(t, d)
			arrived, release := make(chan string, 1), make(chan struct{})
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- r.Header.Get("webhook-id")
				<-release
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(slow.Close)
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			createEndpoint(t, base, slow.URL, "JOB_FINISHED")
			commitGlobex(t, base, "in-flight")
			id := <-arrived

			during := delivery(t, base, id)
			require.Equal(t, "PENDING", during.Status)
			require.Zero(t, during.AttemptCount, "the attempt under way is not counted until it ends")
			require.Nil(t, during.LastError)
			close(release)
			done := waitDeliveryStatus(t, base, id, "SUCCESS")
			require.Equal(t, 1, done.AttemptCount)
		})
	}
}
