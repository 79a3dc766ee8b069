package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Retention: how long the control plane keeps finished work, and how long
// memories live, per workspace over a default.
const (
	// AuditActionExpire audits a memory a TTL expired (its deletion is
	// routed like an accepted DELETE_REQUEST).
	AuditActionExpire = "expire_memory"
	// ReviewerRetention is the reviewer of the delete requests a TTL makes.
	ReviewerRetention = "retention_policy"
	// SourceRetention is the source type of those delete requests. It is
	// reserved: a client's feedback under it would exempt memories from
	// their TTL and pass for the policy's at webhook receivers.
	SourceRetention = "retention"
	// SourceMCP is the source type of what the MCP edge records.
	SourceMCP = "mcp"
)

// checkSourceType refuses a source type the gateway reserves for itself:
// retention's (in any casing, with anything after it), and mcp's but from
// the MCP edge.
func checkSourceType(ctx context.Context, sourceType string) error {
	lower := strings.ToLower(sourceType)
	switch {
	case strings.HasPrefix(lower, SourceRetention):
		return NewInputError("sourceType", "is reserved to the gateway's retention policy")
	case lower == SourceMCP && ViaFrom(ctx) != ViaMCP:
		return NewInputError("sourceType", "is reserved to the gateway's MCP edge")
	}
	return nil
}

// RetentionPolicy is the retention of every workspace: Default, unless the
// workspace has its own rules.
type RetentionPolicy struct {
	Default    RetentionRules
	Workspaces map[string]RetentionRules
}

// RetentionRules are one workspace's retention settings.
type RetentionRules struct {
	// ControlPlane is how long terminal commit jobs with their events,
	// audit entries and decided feedback stay after they finished; 0 keeps
	// them forever. (Commit idempotency then holds within the window only.
	// Erasure requests, their jobs and audit entries are always kept: they
	// are the proof.)
	ControlPlane time.Duration
	// Memories are TTLs by namespace prefix and memory type.
	Memories []MemoryTTL
}

// MemoryTTL expires the memories under a namespace prefix ("" is every
// namespace), of the given types (none: every type), older than TTL.
type MemoryTTL struct {
	Namespace   string
	MemoryTypes []backendtype.RefType
	TTL         time.Duration
}

// WorkspaceSet names the workspaces a rule applies to: one, or every one
// but some (the default's).
type WorkspaceSet struct {
	Only   string
	Except []string
}

// Sets are the rules of the policy with the workspaces each applies to.
func (p RetentionPolicy) Sets() map[*RetentionRules]WorkspaceSet {
	out := map[*RetentionRules]WorkspaceSet{}
	except := make([]string, 0, len(p.Workspaces))
	for ws, rules := range p.Workspaces {
		r := rules
		out[&r] = WorkspaceSet{Only: ws}
		except = append(except, ws)
	}
	slices.Sort(except)
	d := p.Default
	out[&d] = WorkspaceSet{Except: except}
	return out
}

// RetentionStore is what retention needs of the store. Each call deletes (or
// finds) at most limit rows in one short transaction, skipping rows another
// process holds, so any number of processes may clean at once.
type RetentionStore interface {
	// DeleteFinishedJobs deletes terminal commit jobs (never erasure jobs)
	// finished before, with their events.
	DeleteFinishedJobs(ctx context.Context, ws WorkspaceSet, before time.Time, limit int) (jobs, events int, err error)
	// DeleteAuditBefore deletes audit entries created before, except an
	// erasure's.
	DeleteAuditBefore(ctx context.Context, ws WorkspaceSet, before time.Time, limit int) (int, error)
	// DeleteDecidedFeedback deletes feedback decided (rejected, applied,
	// skipped or failed) before, with its texts.
	DeleteDecidedFeedback(ctx context.Context, ws WorkspaceSet, before time.Time, limit int) (int, error)
	// DeleteFinishedWebhookDeliveries deletes webhook deliveries that
	// succeeded or were dead-lettered before.
	DeleteFinishedWebhookDeliveries(ctx context.Context, ws WorkspaceSet, before time.Time, limit int) (int, error)
	// DeleteFinishedAttempts deletes the attempts of finished events (not
	// PENDING nor PROCESSING, or gone) that ended before.
	DeleteFinishedAttempts(ctx context.Context, ws WorkspaceSet, before time.Time, limit int) (int, error)
	// ExpiredRefs finds successful refs a TTL expired (created before,
	// under the rule's namespace and of its types) whose deletion is not
	// routed yet.
	ExpiredRefs(ctx context.Context, ws WorkspaceSet, rule MemoryTTL, before time.Time, limit int) ([]MemoryRef, error)
}

// ExpireMemories routes the deletion of up to limit memories rule expired
// in ws, each as an accepted DELETE_REQUEST whose reviewer is the retention
// policy: the owning backend deletes it through the outbox, its refs become
// DELETED, and a memory the backend cannot delete is reported (the feedback
// ends SKIPPED with the reason), never marked deleted. It returns how many
// it routed.
func (s *Service) ExpireMemories(ctx context.Context, store RetentionStore, ws WorkspaceSet, rule MemoryTTL, limit int) (int, error) {
	now := s.clock()
	refs, err := store.ExpiredRefs(ctx, ws, rule, now.Add(-rule.TTL), limit)
	if err != nil {
		return 0, fmt.Errorf("error finding expired memories: %w", err)
	}
	routed := 0
	for _, ref := range refs {
		fb := MemoryFeedback{
			// Ids of a basis no client can name (sourceType "retention…" is
			// refused), so no feedback recorded before that refusal
			// stands in for this one.
			ID: FeedbackID(ref.WorkspaceID, ReviewerRetention, ref.ID), WorkspaceID: ref.WorkspaceID, UserID: ref.UserID,
			AgentID: ref.AgentID, Namespace: ref.Namespace, MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackDeleteRequest,
			Status: FeedbackAccepted, ReviewedBy: optional(ReviewerRetention), ReviewedAt: &now,
			SourceType: optional(SourceRetention), SourceEventID: optional(ref.ID),
			Metadata:  Metadata{"backend": string(ref.Backend), "ref_type": string(ref.RefType), "ttl": rule.TTL.String()},
			CreatedAt: now, UpdatedAt: now,
		}
		route := s.feedbackRoute(fb, ref, now)
		fb.JobID, fb.OutboxEventID = &route.Job.ID, &route.Event.ID
		audit := auditEntry(AuditActionExpire, []string{ref.ID}, auditSubject{
			WorkspaceID: ref.WorkspaceID, UserID: ref.UserID, AgentID: ref.AgentID, Principal: ReviewerRetention,
			TargetType: "memory_ref", TargetID: ref.ID, Namespace: ref.Namespace, SessionID: ref.SessionID,
			JobID: route.Job.ID, GatewayID: ref.GatewayID,
		}, Metadata{"feedback_id": fb.ID, "backend": string(ref.Backend), "ref_type": string(ref.RefType), "ttl": rule.TTL.String()}, now)
		_, created, err := s.store.SaveFeedback(ctx, fb, FeedbackContent{}, audit, route)
		if err != nil {
			return routed, fmt.Errorf("error routing the expiry of %s: %w", ref.ID, err)
		}
		if created {
			routed++
			s.publishJobs(ctx, []CommitJob{route.Job})
		}
	}
	if routed > 0 {
		s.notifyOutbox(ctx)
	}
	return routed, nil
}
