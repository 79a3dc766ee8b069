package resolvers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
)

const batchMutation = `mutation($in: IngestConversationTurnsInput!) { ingestConversationTurns(input: $in) {
	results { turn { status turnId gatewayId replayed refs { id backend } } error { code message field } } } }`

type batchPayload struct {
	IngestConversationTurns struct {
		Results []struct {
			Turn *struct {
				Status, TurnID, GatewayID string
				Replayed                  bool
				Refs                      []struct{ ID, Backend string }
			}
			Error *struct {
				Code, Message string
				Field         *string
			}
		}
	}
}

func batchTurn(session, turn, content string) map[string]any {
	return turnVars(func(in map[string]any) { in["sessionId"], in["turnId"], in["content"] = session, turn, content })["in"].(map[string]any)
}

// TestIngestConversationTurns: one result per turn in order, each holding
// its payload or its own coded error with the field; a retried batch
// replays; a batch over the limit is refused whole.
func TestIngestConversationTurns(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		turns := []any{
			batchTurn("s1", "t1", "my favourite tea is jasmine"),
			batchTurn("s2", "t1", "I live in Lisbon"),
			batchTurn("s1", "t2", ""),
			batchTurn("s1", "t3", "and my favourite colour is blue"),
			func() map[string]any { m := batchTurn("s3", "t1", "x"); m["namespace"] = "a/../b"; return m }(),
			batchTurn("s1", "t1", "my favourite tea is jasmine"),
		}
		for i := range 12 {
			turns = append(turns, batchTurn("s4", fmt.Sprintf("o%02d", i), fmt.Sprintf("turn %d of a long session", i)))
		}
		var out batchPayload
		h.data(t, batchMutation, map[string]any{"in": map[string]any{"turns": turns}}, &out)
		res := out.IngestConversationTurns.Results
		require.Len(t, res, len(turns))
		for _, i := range []int{0, 1, 3} {
			require.NotNil(t, res[i].Turn, "turn %d", i)
			require.Nil(t, res[i].Error, "turn %d", i)
			require.Equal(t, "SUCCESS", res[i].Turn.Status)
			require.False(t, res[i].Turn.Replayed)
		}
		require.Equal(t, "t3", res[3].Turn.TurnID, "results keep the order of the turns")
		require.Nil(t, res[2].Turn)
		require.Equal(t, "BAD_USER_INPUT", res[2].Error.Code)
		require.Equal(t, "input.turns[2].content", *res[2].Error.Field)
		require.Equal(t, "BAD_USER_INPUT", res[4].Error.Code)
		require.Equal(t, "input.turns[4].namespace", *res[4].Error.Field)
		require.True(t, res[5].Turn.Replayed, "a turn the batch holds twice is stored once")
		require.Equal(t, res[0].Turn.GatewayID, res[5].Turn.GatewayID)

		// A session's turns reach the backend in the order given.
		var stored []string
		require.NoError(t, db.NewRaw("SELECT turn_id FROM local_memories WHERE session_id = ? ORDER BY seq", "s4").Scan(context.Background(), &stored))
		want := make([]string, 12)
		for i := range want {
			want[i] = fmt.Sprintf("o%02d", i)
		}
		require.Equal(t, want, stored)

		var again batchPayload
		h.data(t, batchMutation, map[string]any{"in": map[string]any{"turns": turns[:2]}}, &again)
		for i, r := range again.IngestConversationTurns.Results {
			require.True(t, r.Turn.Replayed, "turn %d of a retried batch replays", i)
			require.Equal(t, res[i].Turn.GatewayID, r.Turn.GatewayID)
		}

		tooMany := make([]any, gateway.MaxTurnsPerBatch+1)
		for i := range tooMany {
			tooMany[i] = batchTurn("s9", fmt.Sprint(i), "x")
		}
		e := h.onlyError(t, batchMutation, map[string]any{"in": map[string]any{"turns": tooMany}})
		require.Equal(t, "BAD_USER_INPUT", e.Extensions["code"])
		require.Equal(t, "input.turns", e.Extensions["field"])
	})
}

// TestIngestConversationTurnsGrantsAndRateLimit: each turn is authorized
// and counts against the ingest rate limit on its own.
func TestIngestConversationTurnsGrantsAndRateLimit(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	limiter := policy.NewLimiter(map[string]policy.Rate{gateway.LimitIngest: {PerSecond: 0.001, Burst: 2}})
	h := newHarness(t, db, strict(), withLimiter(limiter))
	agent := gateway.Principal{Name: "agent", WorkspaceID: "ws", UserID: "u1", Role: gateway.RoleAgent, Grants: grants("team", gateway.AccessWrite)}
	turns := []any{
		batchTurn("s1", "t1", "one"),
		func() map[string]any { m := batchTurn("s2", "t1", "as another user"); m["userId"] = "u2"; return m }(),
		batchTurn("s1", "t2", "two"),
		batchTurn("s1", "t3", "three"),
	}
	_, resp := h.doAs(t, &agent, batchMutation, map[string]any{"in": map[string]any{"turns": turns}})
	require.Empty(t, resp.Errors)
	var out batchPayload
	require.NoError(t, json.Unmarshal(resp.Data, &out))
	codes := make([]string, len(turns))
	for i, r := range out.IngestConversationTurns.Results {
		if r.Error != nil {
			codes[i] = r.Error.Code
		} else {
			codes[i] = r.Turn.Status
		}
	}
	require.Equal(t, []string{"SUCCESS", "FORBIDDEN", "SUCCESS", "RATE_LIMITED"}, codes)
}

// TestIngestConversationTurnsDuringAnErasure: the turns of a user being
// erased are refused, each with reason erasure_in_progress; others pass.
func TestIngestConversationTurnsDuringAnErasure(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withServiceConfig(gateway.Config{ErasureGrace: time.Hour}))
		var ignored any
		h.data(t, `mutation { eraseSubject(input: {workspaceId: "ws", userId: "u1", reason: "asked"}) { request { id } } }`, nil, &ignored)
		other := batchTurn("s2", "t1", "not being erased")
		other["userId"] = "u2"
		var out batchPayload
		h.data(t, batchMutation, map[string]any{"in": map[string]any{"turns": []any{batchTurn("s1", "t1", "hello"), other, batchTurn("s1", "t2", "again")}}}, &out)
		res := out.IngestConversationTurns.Results
		require.Equal(t, "CONFLICT", res[0].Error.Code)
		require.Equal(t, "SUCCESS", res[1].Turn.Status)
		require.Equal(t, "CONFLICT", res[2].Error.Code)
	})
}
