package resolvers_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// Values no control-plane table, answer or backend may ever hold.
const (
	ownBackendKey = "ovk-root-7f3a9c21e5b84d6f"
	leakedCard    = "4111 1111 1111 1111"
	leakedCardRaw = "4111111111111111"
)

// echoBackend is a backend that echoes what it was sent, and the key it
// was called with, in every error — the worst a real one can do.
type echoBackend struct {
	mu      sync.Mutex
	queries []string
}

func (b *echoBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (b *echoBackend) echo() error {
	return errors.New("upstream rejected: Authorization: Bearer " + ownBackendKey + ", body card " + leakedCard)
}

func (b *echoBackend) IngestTurn(context.Context, backendtype.TurnWrite) (backendtype.WriteResult, error) {
	return backendtype.WriteResult{}, b.echo()
}

func (b *echoBackend) CommitSession(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
	return backendtype.CommitResult{Status: backendtype.ResultFailed, ErrorMessage: b.echo().Error()}, nil
}

func (b *echoBackend) Retrieve(_ context.Context, q backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	b.mu.Lock()
	b.queries = append(b.queries, q.Query)
	b.mu.Unlock()
	return nil, b.echo()
}

func (b *echoBackend) Health(context.Context) error { return b.echo() }

func protectedRedactor(t *testing.T) *policy.Redactor {
	t.Helper()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	require.NoError(t, r.ProtectSecrets(ownBackendKey))
	return r
}

// everyTextColumn dumps every text the control plane stored, for a search.
func everyTextColumn(t *testing.T, db *persistence.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"memory_refs", "commit_jobs", "outbox_events", "audit_entries", "memory_feedback", "sessions", "session_scopes"} {
		var rows []map[string]any
		require.NoError(t, db.NewSelect().TableExpr(table).Scan(context.Background(), &rows))
		for _, r := range rows {
			for _, v := range r {
				b.WriteString(strings.ReplaceAll(strings.ReplaceAll(toString(v), " ", ""), "-", ""))
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

func toString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []byte:
		return string(t)
	default:
		return ""
	}
}

// TestRedactionOnEveryPath: metadata keys and numbers, the retrieval query,
// and every error text a backend sends back (ingest, commit, retrieval,
// health) are redacted before they are stored, returned or sent on; the
// gateway's own backend key never appears anywhere.
func TestRedactionOnEveryPath(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		echo := &echoBackend{}
		h := newHarness(t, db, withRedactor(protectedRedactor(t)), withBackends(echo))

		// Metadata: a key holding a card, a card as a JSON number, nested.
		var ing ingestPayload
		h.data(t, ingestMutation, turnVars(func(in map[string]any) {
			in["metadata"] = map[string]any{
				"note " + leakedCard: "x",
				"amount":             4111111111111111,
				"nested":             map[string]any{"list": []any{4111111111111111, "mail jane.doe@example.com"}},
			}
		}), &ing)
		require.Equal(t, "FAILED", ing.IngestConversationTurn.Status)
		for _, e := range ing.IngestConversationTurn.Errors {
			require.NotContains(t, e, ownBackendKey)
			require.NotContains(t, e, leakedCard)
		}

		// A commit whose backend fails, echoing.
		h.data(t, `mutation { commitSession(input: {workspaceId: "ws", userId: "u1", agentId: "a1", sessionId: "s1", namespace: "team"}) { job { id } } }`, nil, &struct{}{})
		var drained struct{ ProcessOutbox struct{ ProcessedCount int } }
		h.data(t, `mutation { processOutbox { processedCount } }`, nil, &drained)
		require.Equal(t, 1, drained.ProcessOutbox.ProcessedCount)
		var events struct {
			OutboxEvents struct {
				Edges []struct{ Node struct{ LastError *string } }
			}
		}
		h.data(t, `{ outboxEvents { edges { node { lastError } } } }`, nil, &events)
		require.NotNil(t, events.OutboxEvents.Edges[0].Node.LastError)
		require.Contains(t, *events.OutboxEvents.Edges[0].Node.LastError, "[REDACTED:configured_secret]")

		// Retrieval: the query is redacted before it leaves, the error
		// before it is returned.
		var got struct {
			RetrieveContext struct {
				Backends []struct{ Error *string }
			}
		}
		h.data(t, `{ retrieveContext(input: {workspaceId: "ws", userId: "u1", agentId: "a1", query: "did I pay with card `+leakedCard+`?"}) { backends { error } } }`, nil, &got)
		require.NotContains(t, *got.RetrieveContext.Backends[0].Error, ownBackendKey)
		require.NotContains(t, *got.RetrieveContext.Backends[0].Error, leakedCard)
		require.Equal(t, []string{"did I pay with card [REDACTED:payment_card]?"}, echo.queries)

		// Health.
		var health struct {
			Backends []struct{ Error *string }
		}
		h.data(t, `{ backends { error } }`, nil, &health)
		require.Contains(t, *health.Backends[0].Error, "[REDACTED:configured_secret]")
		require.NotContains(t, *health.Backends[0].Error, leakedCard)

		// Nothing of either value was stored, and none reached the logs.
		stored := everyTextColumn(t, db)
		require.NotContains(t, stored, ownBackendKey)
		require.NotContains(t, stored, leakedCardRaw)
		require.NotContains(t, stored, "jane.doe@example.com")
		require.NotContains(t, h.logs.String(), ownBackendKey)
		require.NotContains(t, h.logs.String(), leakedCard)
	})
}

// TestIDsHoldingSecretsAreRefused: ids go to backends in URLs and are
// stored as they are, so one that holds a credential, a card or an IBAN is
// refused (and nothing is written); emails, phones and addresses are
// identities and pass.
func TestIDsHoldingSecretsAreRefused(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withRedactor(protectedRedactor(t)))
		for field, value := range map[string]string{
			"sessionId":      "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
			"turnId":         "turn-" + leakedCardRaw,
			"idempotencyKey": "AKIA4QZ7R2M6XK3PLW5N",
			"sourceEventId":  "password=hunter2!",
			"agentId":        "agent-" + ownBackendKey,
			"requestId":      "DE89370400440532013000",
		} {
			e := h.onlyError(t, ingestMutation, turnVars(func(in map[string]any) { in[field] = value }))
			require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], field)
			require.Equal(t, "input."+field, e.Extensions["field"])
			require.NotContains(t, e.Message, value, "the refusal does not echo the secret")
		}
		require.Zero(t, countRowsOf(t, db, "memory_refs"), "nothing was written")
		e := h.onlyError(t, `mutation { commitSession(input: {workspaceId: "ws", userId: "u1", agentId: "a1", sessionId: "s1", namespace: "team", idempotencyKey: "sk_live_0123456789abcdefghij"}) { job { id } } }`, nil)
		require.Equal(t, "input.idempotencyKey", e.Extensions["field"])
		e = h.onlyError(t, `{ retrieveContext(input: {workspaceId: "ws", userId: "u1", agentId: "a1", query: "x", traceId: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"}) { items { text } } }`, nil)
		require.Equal(t, "input.traceId", e.Extensions["field"])

		var ing ingestPayload
		h.data(t, ingestMutation, turnVars(func(in map[string]any) {
			in["userId"], in["sessionId"] = "jane.doe@example.com", "+44 20 7946 0958"
		}), &ing)
		require.Equal(t, "SUCCESS", ing.IngestConversationTurn.Status, "identities are ids")
	})
}

func countRowsOf(t *testing.T, db *persistence.DB, table string) int {
	t.Helper()
	n, err := db.NewSelect().TableExpr(table).Count(context.Background())
	require.NoError(t, err)
	return n
}

// versionedRedactor is the built-in policy under another rule-set version
// (and optionally without detectors): a gateway before an upgrade.
type versionedRedactor struct {
	gateway.Redactor
	version string
	off     bool
}

func (v versionedRedactor) Redact(ws, text string) gateway.Redaction {
	if v.off {
		return gateway.Redaction{Text: text}
	}
	return v.Redactor.Redact(ws, text)
}

func (v versionedRedactor) Version() string { return v.version }

// TestReplayAcrossARuleSetUpgrade: better rules redact the same turn
// differently, so its content hash changes; a replay recorded under the
// earlier rule set is answered as a replay from what is recorded — never
// as a CONFLICT — while different content under the same rules still is
// one.
func TestReplayAcrossARuleSetUpgrade(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		current := protectedRedactor(t)
		before := newHarness(t, db, withRedactor(versionedRedactor{Redactor: current, version: "1", off: true}))
		turn := turnVars(func(in map[string]any) { in["content"] = "my card is " + leakedCard })
		var first ingestPayload
		before.data(t, ingestMutation, turn, &first)
		require.False(t, first.IngestConversationTurn.Replayed)

		after := newHarness(t, db, withRedactor(current))
		var replay ingestPayload
		after.data(t, ingestMutation, turn, &replay)
		require.True(t, replay.IngestConversationTurn.Replayed, "a replay across the upgrade is a replay")
		require.Equal(t, first.IngestConversationTurn.GatewayID, replay.IngestConversationTurn.GatewayID)
		require.Equal(t, *first.IngestConversationTurn.Refs[0].ContentHash, *replay.IngestConversationTurn.Refs[0].ContentHash, "answered from what is recorded")

		// Under one rule set, other content under the same id conflicts.
		var fresh ingestPayload
		after.data(t, ingestMutation, turnVars(func(in map[string]any) { in["turnId"] = "t2"; in["content"] = "card " + leakedCard }), &fresh)
		e := after.onlyError(t, ingestMutation, turnVars(func(in map[string]any) { in["turnId"] = "t2"; in["content"] = "something else" }))
		require.Equal(t, resolvers.CodeConflict, e.Extensions["code"])
	})
}

// TestFeedbackTextIsRedacted: comments, corrections and review reasons are
// redacted before they are stored, and a correction before it is routed to
// the backend that owns the memory.
func TestFeedbackTextIsRedacted(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withRedactor(protectedRedactor(t)))
		var ing ingestPayload
		h.data(t, ingestMutation, turnVars(), &ing)
		var fb struct {
			RecordMemoryFeedback struct{ Feedback struct{ ID string } }
		}
		h.data(t, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id } } }`, map[string]any{"in": map[string]any{
			"workspaceId": "ws", "userId": "u1", "agentId": "a1", "namespace": "team/alpha", "memoryRefId": ing.IngestConversationTurn.Refs[0].ID,
			"feedbackType": "CORRECTION", "correction": "my favourite colour is green, card " + leakedCard, "comment": "ask jane.doe@example.com",
		}}, &fb)
		h.data(t, `mutation($id: ID!) { reviewMemoryFeedback(input: {id: $id, decision: ACCEPT, reason: "approved, see key AKIA4QZ7R2M6XK3PLW5N"}) { feedback { status } } }`,
			map[string]any{"id": fb.RecordMemoryFeedback.Feedback.ID}, &struct{}{})
		h.data(t, `mutation { processOutbox { processedCount } }`, nil, &struct{}{})

		var stored strings.Builder
		for _, table := range []string{"memory_feedback", "feedback_content", "local_memories", "audit_entries", "outbox_events"} {
			stored.WriteString(strings.Join(dumpTable(t, db, table), "\n"))
		}
		require.Contains(t, stored.String(), "my favourite colour is green, card [REDACTED:payment_card]", "the corrected memory")
		for _, needle := range []string{leakedCard, leakedCardRaw, "jane.doe@example.com", "AKIA4QZ7R2M6XK3PLW5N"} {
			require.NotContains(t, stored.String(), needle)
		}
	})
}
