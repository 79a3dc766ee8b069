package persistencetest

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// seq makes fixture ids unique within a test binary.
var seq atomic.Int64

// BaseTime is the clock of fixtures: a fixed instant, so ordering by time is
// deterministic. Fixture n is created n microseconds after it.
var BaseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func next() int64 { return seq.Add(1) }

// Ref returns a successful ingest ref of workspace "ws" with defaults;
// modify applies overrides.
func Ref(modify ...func(*gateway.MemoryRef)) gateway.MemoryRef {
	n := next()
	gw := fmt.Sprintf("gw_fixture%06d", n)
	r := gateway.MemoryRef{
		ID:           gateway.RefID(gw, backendtype.BackendLocal, backendtype.RefTypeMessageMemory, "", "", ""),
		GatewayID:    gw,
		ProvenanceID: gateway.ProvenanceID(gw, "fixture"),
		WorkspaceID:  "ws",
		UserID:       "user",
		AgentID:      "agent",
		SessionID:    "session",
		Namespace:    "team/alpha",
		Backend:      backendtype.BackendLocal,
		RefType:      backendtype.RefTypeMessageMemory,
		Status:       gateway.RefStatusSuccess,
		Metadata:     gateway.Metadata{"fixture": true},
		CreatedAt:    BaseTime.Add(time.Duration(n) * time.Microsecond),
	}
	r.UpdatedAt = r.CreatedAt
	for _, m := range modify {
		m(&r)
	}
	return r
}

// Job returns an accepted commit job of workspace "ws" with defaults.
func Job(modify ...func(*gateway.CommitJob)) gateway.CommitJob {
	n := next()
	j := gateway.CommitJob{
		ID:          gateway.CommitJobID("ws", "session", fmt.Sprintf("fixture-%d", n), ""),
		WorkspaceID: "ws",
		UserID:      "user",
		AgentID:     "agent",
		SessionID:   "session",
		Namespace:   "team/alpha",
		Status:      gateway.JobAccepted,
		Metadata:    gateway.Metadata{},
		CreatedAt:   BaseTime.Add(time.Duration(n) * time.Microsecond),
	}
	j.UpdatedAt = j.CreatedAt
	for _, m := range modify {
		m(&j)
	}
	return j
}

// Event returns a pending commit event of job for backend.
func Event(job gateway.CommitJob, backend backendtype.Backend, modify ...func(*gateway.OutboxEvent)) gateway.OutboxEvent {
	jobID := job.ID
	e := gateway.OutboxEvent{
		ID:          gateway.OutboxEventID(job.ID, backend, gateway.OperationCommitSession),
		JobID:       &jobID,
		GatewayID:   job.ID,
		WorkspaceID: job.WorkspaceID,
		UserID:      job.UserID,
		AgentID:     job.AgentID,
		SessionID:   job.SessionID,
		Namespace:   job.Namespace,
		Backend:     backend,
		Operation:   gateway.OperationCommitSession,
		Status:      gateway.OutboxPending,
		MaxAttempts: gateway.MaxAttemptsDefault,
		NextRetryAt: job.CreatedAt,
		Metadata:    gateway.Metadata{},
		CreatedAt:   job.CreatedAt,
		UpdatedAt:   job.CreatedAt,
	}
	for _, m := range modify {
		m(&e)
	}
	return e
}

// Audit returns an audit entry for target in workspace "ws".
func Audit(targetID string, modify ...func(*gateway.AuditEntry)) gateway.AuditEntry {
	n := next()
	a := gateway.AuditEntry{
		ID:          gateway.AuditID("fixture", fmt.Sprint(n)),
		WorkspaceID: "ws",
		Action:      "fixture",
		TargetType:  "fixture",
		TargetID:    targetID,
		Metadata:    gateway.Metadata{},
		CreatedAt:   BaseTime.Add(time.Duration(n) * time.Microsecond),
	}
	for _, m := range modify {
		m(&a)
	}
	return a
}
