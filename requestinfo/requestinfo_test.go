package requestinfo_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/requestinfo"
)

func TestFacts(t *testing.T) {
	t.Parallel()
	ctx, info := requestinfo.Start(context.Background(), "req-1", "trace-1")
	require.Equal(t, "req-1", requestinfo.RequestID(ctx))
	require.Equal(t, "trace-1", requestinfo.TraceID(ctx))

	requestinfo.NoteErrorCode(ctx, "UNAUTHENTICATED")
	require.Equal(t, "UNAUTHENTICATED", info.Facts().Outcome, "an error before any operation is the outcome")

	requestinfo.NoteOperation(ctx, requestinfo.Operation{Principal: "alice", Type: "query", Name: "Q", Field: "memoryRefs", Observed: true})
	requestinfo.NoteErrorCode(ctx, requestinfo.OutcomeOK)
	requestinfo.NoteErrorCode(ctx, "NOT_FOUND")
	requestinfo.NoteErrorCode(ctx, "FORBIDDEN")
	require.Equal(t, requestinfo.Facts{Principal: "alice", OperationType: "query", OperationName: "Q", Field: "memoryRefs",
		Outcome: "NOT_FOUND", Observed: true}, info.Facts(), "a new operation starts over; its first error wins over ok")

	requestinfo.NoteOperation(ctx, requestinfo.Operation{Principal: "alice", Type: "mcp_tool", Field: "retrieve_context"})
	require.Equal(t, requestinfo.Facts{Principal: "alice", OperationType: "mcp_tool", Field: "retrieve_context"}, info.Facts(),
		"a websocket or session reports its last operation")
}

func TestOutsideARequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	requestinfo.NoteErrorCode(ctx, "INTERNAL")
	requestinfo.NoteOperation(ctx, requestinfo.Operation{Type: "query"})
	require.Empty(t, requestinfo.RequestID(ctx))
	require.Empty(t, requestinfo.TraceID(ctx))
}
