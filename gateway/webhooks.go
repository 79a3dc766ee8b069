package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook ids and limits.
const (
	PrefixWebhookEndpoint = "whk_"
	PrefixWebhookDelivery = "whd_"
	// WebhookSecretPrefix starts every signing secret (Standard Webhooks):
	// the base64 after it is the HMAC key.
	WebhookSecretPrefix = "whsec_"
	// webhookSecretBytes is the key length: 256 bits, HMAC-SHA256's block
	// strength.
	webhookSecretBytes = 32
	// WebhookURLMaxBytes bounds an endpoint's URL.
	WebhookURLMaxBytes = 2048
	// WebhookDescriptionMaxBytes bounds an endpoint's description.
	WebhookDescriptionMaxBytes = 500
	// WebhookEndpointsPerWorkspaceMax bounds a workspace's endpoints: every
	// change is written once per subscribed endpoint.
	WebhookEndpointsPerWorkspaceMax = 50
	// WebhookDisableAfterDeadLetters disables an endpoint whose deliveries
	// dead-lettered this many times in a row.
	WebhookDisableAfterDeadLetters = 5
	// WebhookPreviousSecretGrace keeps signing with the secret a rotation
	// replaced, beside the new one, so receivers can switch without a gap.
	WebhookPreviousSecretGrace = 24 * time.Hour
)

// Audit actions of webhook administration.
const (
	AuditActionWebhookCreate  = "create_webhook_endpoint"
	AuditActionWebhookUpdate  = "update_webhook_endpoint"
	AuditActionWebhookDelete  = "delete_webhook_endpoint"
	AuditActionWebhookRotate  = "rotate_webhook_secret"
	AuditActionWebhookRedrive = "redrive_webhook_delivery"
	AuditActionWebhookDisable = "disable_webhook_endpoint"
)

// WebhookEventType is a kind of change an endpoint can subscribe to.
type WebhookEventType string

// Webhook event types.
const (
	// WebhookJobFinished: any job (commit, feedback routing, erasure) reached
	// a terminal status.
	WebhookJobFinished WebhookEventType = "JOB_FINISHED"
	// WebhookOutboxDeadLettered: an outbox event ran out of attempts.
	WebhookOutboxDeadLettered WebhookEventType = "OUTBOX_EVENT_DEAD_LETTERED"
	// WebhookFeedbackReceived: feedback was recorded.
	WebhookFeedbackReceived WebhookEventType = "FEEDBACK_RECEIVED"
	// WebhookMemorySuperseded: a ref was superseded by a correction.
	WebhookMemorySuperseded WebhookEventType = "MEMORY_SUPERSEDED"
	// WebhookMemoryDeleted: a ref was deleted by feedback or by expiry.
	WebhookMemoryDeleted WebhookEventType = "MEMORY_DELETED"
	// WebhookErasureFinished: an erasure request ended.
	WebhookErasureFinished WebhookEventType = "ERASURE_FINISHED"
)

// WebhookEventTypes lists every event type, in the API's order.
var WebhookEventTypes = []WebhookEventType{
	WebhookJobFinished, WebhookOutboxDeadLettered, WebhookFeedbackReceived,
	WebhookMemorySuperseded, WebhookMemoryDeleted, WebhookErasureFinished,
}

// IsValid reports whether t is a known event type.
func (t WebhookEventType) IsValid() bool { return slices.Contains(WebhookEventTypes, t) }

// WebhookDeliveryStatus is where a delivery stands.
type WebhookDeliveryStatus string

// Delivery statuses.
const (
	WebhookPending    WebhookDeliveryStatus = "PENDING"
	WebhookSuccess    WebhookDeliveryStatus = "SUCCESS"
	WebhookDeadLetter WebhookDeliveryStatus = "DEAD_LETTER"
)

// WebhookEndpoint is a URL that receives a workspace's changes. Its secrets
// are never read back through the API: the secret is shown once, when it is
// made.
type WebhookEndpoint struct {
	ID          string
	WorkspaceID string
	URL         string
	Events      []WebhookEventType
	Enabled     bool
	Description *string
	// DisabledReason says why the gateway disabled the endpoint; nil when an
	// admin did, or when it is enabled.
	DisabledReason *string
	// ConsecutiveDeadLetters counts dead letters since the last success.
	ConsecutiveDeadLetters int
	CreatedAt              time.Time
	UpdatedAt              time.Time

	Secret               string
	PreviousSecret       *string
	PreviousSecretExpiry *time.Time
}

// NodeID implements Node.
func (e WebhookEndpoint) NodeID() string { return e.ID }

// Subscribes reports whether the endpoint takes events of type t.
func (e WebhookEndpoint) Subscribes(t WebhookEventType) bool { return slices.Contains(e.Events, t) }

// SigningSecrets are the secrets a delivery is signed with at now: the
// current one, and the one a rotation replaced while its grace lasts.
func (e WebhookEndpoint) SigningSecrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != nil && e.PreviousSecretExpiry != nil && now.Before(*e.PreviousSecretExpiry) {
		out = append(out, *e.PreviousSecret)
	}
	return out
}

// WebhookDelivery is one event on its way to one endpoint. Its id is the
// webhook-id header of every attempt.
type WebhookDelivery struct {
	ID             string
	EndpointID     string
	WorkspaceID    string
	EventType      WebhookEventType
	Status         WebhookDeliveryStatus
	AttemptCount   int
	LastStatusCode *int
	LastError      *string
	NextRetryAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    *time.Time
	// Payload is the JSON body sent: ids and statuses, never content.
	Payload string

	// The lease of the sender that holds it (the fence of its completion).
	LockedBy       *string
	LeaseExpiresAt *time.Time
	ClaimCount     int
}

// NodeID implements Node.
func (d WebhookDelivery) NodeID() string { return d.ID }

// FinishedAttempts is the attempts that ended (the API's attemptCount): the
// one a sender is making counts once its outcome is recorded, so that
// watching a delivery says nothing of how long an attempt takes — which
// would tell a port that never answers from one that refuses at once.
func (d WebhookDelivery) FinishedAttempts() int {
	if d.Status == WebhookPending && d.LeaseExpiresAt != nil {
		return max(d.AttemptCount-1, 0)
	}
	return d.AttemptCount
}

// WebhookEvent is a change to report to a workspace's endpoints
// (Changes.WebhookEvents decides which). The store writes one delivery per
// subscribed endpoint in the transaction that makes the change; Key names
// the change, so writing it twice writes nothing new.
type WebhookEvent struct {
	WorkspaceID string
	Type        WebhookEventType
	Key         string
	Data        map[string]any
	At          time.Time
}

// WebhookDeliveryID derives a delivery's id from its event and endpoint:
// the prefix, WebhookEventKeyHash of the event, then the endpoint id's hex
// (so the store can derive it in the statement that fans an event out).
func WebhookDeliveryID(endpointID, eventKey string) string {
	return PrefixWebhookDelivery + WebhookEventKeyHash(eventKey) + strings.TrimPrefix(endpointID, PrefixWebhookEndpoint)
}

// WebhookEventKeyHash is the event's part of its deliveries' ids.
func WebhookEventKeyHash(eventKey string) string {
	return hashHex("webhook_event:"+eventKey, 16)
}

// Body is the delivery's JSON body in the Standard Webhooks shape.
func (ev WebhookEvent) Body() map[string]any {
	return map[string]any{"type": string(ev.Type), "timestamp": ev.At.UTC().Format(time.RFC3339Nano), "data": ev.Data}
}

// Changes is what one control-plane transaction changed that a
// workspace's endpoints may be told of. The store fills it with what its
// transaction did and writes the deliveries of its WebhookEvents in that
// same transaction: which change fires which event is decided here, once,
// and nowhere in the store.
type Changes struct {
	// Jobs are jobs as the transaction left them, finished or not.
	Jobs []CommitJob
	// RetiredRefs are refs the transaction superseded or deleted.
	RetiredRefs []MemoryRef
	// DeadLettered are outbox events that ran out of attempts, as stored.
	DeadLettered []OutboxEvent
	// Feedback is feedback the transaction recorded.
	Feedback []MemoryFeedback
	// At is when the transaction made them.
	At time.Time
}

// WebhookEvents are the events the changes fire: recorded feedback fires
// FEEDBACK_RECEIVED; a ref superseded or deleted, MEMORY_SUPERSEDED or
// MEMORY_DELETED; an outbox event out of attempts, OUTBOX_EVENT_DEAD_LETTERED;
// a job that reached a terminal status, JOB_FINISHED, and, when it is an
// erasure's, ERASURE_FINISHED as well.
func (c Changes) WebhookEvents() []WebhookEvent {
	var out []WebhookEvent
	for _, fb := range c.Feedback {
		out = append(out, feedbackReceivedEvent(fb))
	}
	for _, ref := range c.RetiredRefs {
		if ev, ok := memoryRetiredEvent(ref, c.At); ok {
			out = append(out, ev)
		}
	}
	for _, e := range c.DeadLettered {
		out = append(out, outboxDeadLetteredEvent(e, c.At))
	}
	for _, job := range c.Jobs {
		if !job.Status.Terminal() || job.FinishedAt == nil {
			continue
		}
		out = append(out, jobFinishedEvent(job))
		if ev, ok := erasureFinishedEvent(job); ok {
			out = append(out, ev)
		}
	}
	return out
}

// jobFinishedEvent reports a job that reached a terminal status. The finish
// time is part of the key: a job re-driven and finished again is reported
// again.
func jobFinishedEvent(job CommitJob) WebhookEvent {
	data := map[string]any{"jobId": job.ID, "kind": apiEnum(KindOf(job)), "status": apiEnum(job.Status), "createdRefsCount": job.CreatedRefsCount}
	if job.SessionID != "" {
		data["sessionId"] = job.SessionID
	}
	return WebhookEvent{
		WorkspaceID: job.WorkspaceID, Type: WebhookJobFinished,
		Key:  "job_finished:" + job.ID + ":" + job.FinishedAt.UTC().Format(time.RFC3339Nano),
		Data: data, At: *job.FinishedAt,
	}
}

// outboxDeadLetteredEvent reports an event that ran out of attempts under
// one claim.
func outboxDeadLetteredEvent(e OutboxEvent, now time.Time) WebhookEvent {
	data := map[string]any{"outboxEventId": e.ID, "backend": apiEnum(e.Backend), "operation": apiEnum(e.Operation), "attemptCount": e.AttemptCount}
	if e.JobID != nil {
		data["jobId"] = *e.JobID
	}
	if e.LastErrorCode != nil {
		data["errorCode"] = *e.LastErrorCode
	}
	return WebhookEvent{
		WorkspaceID: e.WorkspaceID, Type: WebhookOutboxDeadLettered,
		Key:  fmt.Sprintf("outbox_dead_letter:%s:%d", e.ID, e.ClaimCount),
		Data: data, At: now,
	}
}

// feedbackReceivedEvent reports recorded feedback.
func feedbackReceivedEvent(fb MemoryFeedback) WebhookEvent {
	return WebhookEvent{
		WorkspaceID: fb.WorkspaceID, Type: WebhookFeedbackReceived,
		Key: "feedback_received:" + fb.ID,
		Data: map[string]any{"feedbackId": fb.ID, "memoryRefId": fb.MemoryRefID, "feedbackType": apiEnum(fb.FeedbackType),
			"status": apiEnum(fb.Status), "sourceType": fb.SourceType},
		At: fb.CreatedAt,
	}
}

// memoryRetiredEvent reports a ref superseded or deleted (by feedback or by
// expiry, which is routed as feedback); false for a ref in any other status.
func memoryRetiredEvent(ref MemoryRef, now time.Time) (WebhookEvent, bool) {
	var t WebhookEventType
	switch ref.Status {
	case RefStatusSuperseded:
		t = WebhookMemorySuperseded
	case RefStatusDeleted:
		t = WebhookMemoryDeleted
	default:
		return WebhookEvent{}, false
	}
	data := map[string]any{"memoryRefId": ref.ID, "backend": apiEnum(ref.Backend), "refType": apiEnum(ref.RefType), "status": apiEnum(ref.Status)}
	if ref.SupersededByRefID != nil {
		data["supersededByRefId"] = *ref.SupersededByRefID
	}
	return WebhookEvent{
		WorkspaceID: ref.WorkspaceID, Type: t,
		Key:  strings.ToLower(string(t)) + ":" + ref.ID,
		Data: data, At: now,
	}, true
}

// erasureFinishedEvent reports the erasure request of a finished erasure
// job (the job names its request); false for any other job.
func erasureFinishedEvent(job CommitJob) (WebhookEvent, bool) {
	requestID, _ := job.Metadata[metadataErasureID].(string)
	if job.Kind != JobKindErasure || requestID == "" {
		return WebhookEvent{}, false
	}
	return WebhookEvent{
		WorkspaceID: job.WorkspaceID, Type: WebhookErasureFinished,
		Key:  "erasure_finished:" + requestID + ":" + job.FinishedAt.UTC().Format(time.RFC3339Nano),
		Data: map[string]any{"erasureRequestId": requestID, "jobId": job.ID, "status": apiEnum(ErasureStatusOf(job))},
		At:   *job.FinishedAt,
	}, true
}

// apiEnum is a value as the GraphQL API names it: payloads use the names
// clients already read from the schema.
func apiEnum[T ~string](v T) string { return strings.ToUpper(string(v)) }

// WebhookDeliveryFilter narrows deliveries.
type WebhookDeliveryFilter struct {
	WorkspaceID string
	EndpointID  string
	Status      WebhookDeliveryStatus
	EventType   WebhookEventType
}

// WebhookStore persists endpoints and deliveries. Deliveries are written by
// the other stores' transactions (WebhookEvent); this is the admin's side.
type WebhookStore interface {
	InsertWebhookEndpoint(ctx context.Context, e WebhookEndpoint, max int, audit AuditEntry) error
	// UpdateWebhookEndpoint applies change to the stored endpoint inside
	// one transaction and returns it as stored.
	UpdateWebhookEndpoint(ctx context.Context, id string, change func(*WebhookEndpoint) (AuditEntry, error)) (WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, id string, audit AuditEntry) error
	WebhookEndpointsByIDs(ctx context.Context, ids []string) ([]WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context, workspaceID string) ([]WebhookEndpoint, error)
	WebhookDeliveriesByIDs(ctx context.Context, ids []string) ([]WebhookDelivery, error)
	ListWebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter, p PageRequest) (Page[WebhookDelivery], error)
	CountWebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter) (int, error)
	WebhookDeliveryStatusCounts(ctx context.Context, f WebhookDeliveryFilter) (map[WebhookDeliveryStatus]int, error)
	// RedriveWebhookDelivery puts a DEAD_LETTER delivery back to PENDING,
	// due now, with a fresh set of attempts; false when it was not dead.
	RedriveWebhookDelivery(ctx context.Context, id string, now time.Time, audit AuditEntry) (WebhookDelivery, bool, error)
}

// URLGuard decides whether a webhook URL may be reached (SSRF).
type URLGuard interface {
	CheckURL(ctx context.Context, rawURL string) error
}

// CreateWebhookEndpointInput is createWebhookEndpoint's input.
type CreateWebhookEndpointInput struct {
	WorkspaceID string
	URL         string
	Events      []WebhookEventType
	Description *string
}

// UpdateWebhookEndpointInput is updateWebhookEndpoint's input; nil fields
// stay as they are.
type UpdateWebhookEndpointInput struct {
	ID          string
	URL         *string
	Events      []WebhookEventType
	Enabled     *bool
	Description *string
}

// ErrWebhooksUnavailable: the service has no webhook store.
var ErrWebhooksUnavailable = errors.New("webhooks are not configured on this service")

// webhookAdmin checks the caller administers workspaceID (the operator
// administers every workspace) and that webhooks are on.
func (s *Service) webhookAdmin(ctx context.Context, workspaceID, field string) (Principal, error) {
	p, err := s.requireAdmin(ctx)
	if err != nil {
		return Principal{}, err
	}
	if s.webhooks == nil {
		return Principal{}, ErrWebhooksUnavailable
	}
	if workspaceID != "" && !p.IsOperator() && workspaceID != p.WorkspaceID {
		return Principal{}, &NotFoundError{Field: field, What: "workspace"}
	}
	return p, nil
}

// CreateWebhookEndpoint registers an endpoint and returns it with its
// secret, which is shown only here.
func (s *Service) CreateWebhookEndpoint(ctx context.Context, in CreateWebhookEndpointInput) (WebhookEndpoint, string, error) {
	if in.WorkspaceID == "" {
		return WebhookEndpoint{}, "", NewInputError("input.workspaceId", "is required")
	}
	p, err := s.webhookAdmin(ctx, in.WorkspaceID, "input.workspaceId")
	if err != nil {
		return WebhookEndpoint{}, "", err
	}
	if err := s.checkWebhookURL(ctx, in.URL, "input.url"); err != nil {
		return WebhookEndpoint{}, "", err
	}
	events, err := webhookEvents(in.Events, "input.events")
	if err != nil {
		return WebhookEndpoint{}, "", err
	}
	if err := checkDescription(in.Description, "input.description"); err != nil {
		return WebhookEndpoint{}, "", err
	}
	now := s.clock()
	secret := newWebhookSecret()
	e := WebhookEndpoint{
		ID: PrefixWebhookEndpoint + randomHex(12), WorkspaceID: in.WorkspaceID, URL: in.URL, Events: events,
		Enabled: true, Description: in.Description, CreatedAt: now, UpdatedAt: now, Secret: secret,
	}
	audit := webhookAudit(AuditActionWebhookCreate, p, e, now, Metadata{"events": eventNames(events)})
	if err := s.webhooks.InsertWebhookEndpoint(ctx, e, WebhookEndpointsPerWorkspaceMax, audit); err != nil {
		return WebhookEndpoint{}, "", err
	}
	return e, secret, nil
}

// UpdateWebhookEndpoint changes an endpoint. Enabling it clears what
// disabled it and its run of dead letters.
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, in UpdateWebhookEndpointInput) (WebhookEndpoint, error) {
	p, err := s.webhookEndpointOf(ctx, in.ID, "input.id")
	if err != nil {
		return WebhookEndpoint{}, err
	}
	if in.URL != nil {
		if err := s.checkWebhookURL(ctx, *in.URL, "input.url"); err != nil {
			return WebhookEndpoint{}, err
		}
	}
	var events []WebhookEventType
	if in.Events != nil {
		if events, err = webhookEvents(in.Events, "input.events"); err != nil {
			return WebhookEndpoint{}, err
		}
	}
	if err := checkDescription(in.Description, "input.description"); err != nil {
		return WebhookEndpoint{}, err
	}
	now := s.clock()
	return s.webhooks.UpdateWebhookEndpoint(ctx, in.ID, func(e *WebhookEndpoint) (AuditEntry, error) {
		changed := []string{}
		if in.URL != nil {
			e.URL = *in.URL
			changed = append(changed, "url")
		}
		if events != nil {
			e.Events = events
			changed = append(changed, "events")
		}
		if in.Description != nil {
			e.Description = in.Description
			if *in.Description == "" {
				e.Description = nil
			}
			changed = append(changed, "description")
		}
		if in.Enabled != nil {
			if *in.Enabled && !e.Enabled {
				e.DisabledReason, e.ConsecutiveDeadLetters = nil, 0
			}
			if !*in.Enabled {
				e.DisabledReason = nil
			}
			e.Enabled = *in.Enabled
			changed = append(changed, "enabled")
		}
		e.UpdatedAt = now
		return webhookAudit(AuditActionWebhookUpdate, p, *e, now, Metadata{"changed": changed, "enabled": e.Enabled}), nil
	})
}

// DeleteWebhookEndpoint removes an endpoint and its deliveries.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	p, err := s.webhookEndpointOf(ctx, id, "input.id")
	if err != nil {
		return err
	}
	e, err := one(ctx, s.webhooks.WebhookEndpointsByIDs, id, "webhook endpoint")
	if err != nil {
		return err
	}
	now := s.clock()
	return s.webhooks.DeleteWebhookEndpoint(ctx, id, webhookAudit(AuditActionWebhookDelete, p, e, now, nil))
}

// RotateWebhookSecret gives an endpoint a new secret and returns it. The
// old one keeps signing beside it for WebhookPreviousSecretGrace.
func (s *Service) RotateWebhookSecret(ctx context.Context, id string) (string, error) {
	p, err := s.webhookEndpointOf(ctx, id, "id")
	if err != nil {
		return "", err
	}
	now := s.clock()
	secret := newWebhookSecret()
	_, err = s.webhooks.UpdateWebhookEndpoint(ctx, id, func(e *WebhookEndpoint) (AuditEntry, error) {
		previous, expiry := e.Secret, now.Add(WebhookPreviousSecretGrace)
		e.PreviousSecret, e.PreviousSecretExpiry, e.Secret, e.UpdatedAt = &previous, &expiry, secret, now
		return webhookAudit(AuditActionWebhookRotate, p, *e, now, Metadata{"previous_secret_valid_until": expiry.Format(time.RFC3339)}), nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// WebhookEndpoints lists a workspace's endpoints.
func (s *Service) WebhookEndpoints(ctx context.Context, workspaceID string) ([]WebhookEndpoint, error) {
	if _, err := s.webhookAdmin(ctx, workspaceID, "workspaceId"); err != nil {
		return nil, err
	}
	return s.webhooks.ListWebhookEndpoints(ctx, workspaceID)
}

// WebhookEndpoint returns one endpoint the caller administers.
func (s *Service) WebhookEndpoint(ctx context.Context, id string) (WebhookEndpoint, error) {
	if _, err := s.webhookEndpointOf(ctx, id, "id"); err != nil {
		return WebhookEndpoint{}, err
	}
	return one(ctx, s.webhooks.WebhookEndpointsByIDs, id, "webhook endpoint")
}

// WebhookEndpointsByIDs returns the endpoints among ids the caller
// administers (the deliveries' endpoint field).
func (s *Service) WebhookEndpointsByIDs(ctx context.Context, ids []string) ([]WebhookEndpoint, error) {
	p, err := s.webhookAdmin(ctx, "", "")
	if err != nil {
		return nil, err
	}
	all, err := s.webhooks.WebhookEndpointsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(e WebhookEndpoint) bool { return !p.IsOperator() && e.WorkspaceID != p.WorkspaceID }), nil
}

// WebhookDelivery returns one delivery the caller administers.
func (s *Service) WebhookDelivery(ctx context.Context, id string) (WebhookDelivery, error) {
	p, err := s.webhookAdmin(ctx, "", "")
	if err != nil {
		return WebhookDelivery{}, err
	}
	d, err := one(ctx, s.webhooks.WebhookDeliveriesByIDs, id, "webhook delivery")
	if err != nil {
		return WebhookDelivery{}, err
	}
	if !p.IsOperator() && d.WorkspaceID != p.WorkspaceID {
		return WebhookDelivery{}, &NotFoundError{What: "webhook delivery"}
	}
	return d, nil
}

// WebhookDeliveries lists deliveries, newest first. A workspace admin sees
// its own workspace's.
func (s *Service) WebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter, page PageRequest) (Page[WebhookDelivery], error) {
	p, err := s.webhookAdmin(ctx, f.WorkspaceID, "filter.workspaceId")
	if err != nil {
		return Page[WebhookDelivery]{}, err
	}
	if !p.IsOperator() {
		f.WorkspaceID = p.WorkspaceID
	}
	return s.webhooks.ListWebhookDeliveries(ctx, f, page)
}

// WebhookDeliveryCounts counts the deliveries WebhookDeliveries would list
// across every page, as want asks.
func (s *Service) WebhookDeliveryCounts(ctx context.Context, f WebhookDeliveryFilter, want CountRequest) (ListCounts[WebhookDeliveryStatus], error) {
	p, err := s.webhookAdmin(ctx, f.WorkspaceID, "filter.workspaceId")
	if err != nil {
		return ListCounts[WebhookDeliveryStatus]{}, err
	}
	if !p.IsOperator() {
		f.WorkspaceID = p.WorkspaceID
	}
	return listCounts(want,
		func() (int, error) { return s.webhooks.CountWebhookDeliveries(ctx, f) },
		func() (map[WebhookDeliveryStatus]int, error) {
			f.Status = ""
			return s.webhooks.WebhookDeliveryStatusCounts(ctx, f)
		})
}

// RedriveWebhookDelivery sends a dead-lettered delivery again, with the same
// webhook-id and a fresh set of attempts.
func (s *Service) RedriveWebhookDelivery(ctx context.Context, id string) (WebhookDelivery, error) {
	d, err := s.WebhookDelivery(ctx, id)
	if IsNotFound(err) {
		return WebhookDelivery{}, &NotFoundError{Field: "id", What: "webhook delivery"}
	}
	if err != nil {
		return WebhookDelivery{}, err
	}
	p, _ := s.principal(ctx)
	now := s.clock()
	audit := auditEntry(AuditActionWebhookRedrive, []string{d.ID, now.String()},
		auditSubject{WorkspaceID: d.WorkspaceID, Principal: p.Name, TargetType: "webhook_delivery", TargetID: d.ID},
		Metadata{"endpoint_id": d.EndpointID, "event_type": string(d.EventType)}, now)
	stored, ok, err := s.webhooks.RedriveWebhookDelivery(ctx, id, now, audit)
	if err != nil {
		return WebhookDelivery{}, err
	}
	if !ok {
		return WebhookDelivery{}, NewInputError("id", fmt.Sprintf("only a DEAD_LETTER delivery can be re-driven; this one is %s", stored.Status))
	}
	return stored, nil
}

// webhookEndpointOf checks the caller administers the endpoint's workspace.
func (s *Service) webhookEndpointOf(ctx context.Context, id, field string) (Principal, error) {
	p, err := s.webhookAdmin(ctx, "", field)
	if err != nil {
		return Principal{}, err
	}
	e, err := one(ctx, s.webhooks.WebhookEndpointsByIDs, id, "webhook endpoint")
	if IsNotFound(err) || (err == nil && !p.IsOperator() && e.WorkspaceID != p.WorkspaceID) {
		return Principal{}, &NotFoundError{Field: field, What: "webhook endpoint"}
	}
	return p, err
}

func (s *Service) checkWebhookURL(ctx context.Context, raw, field string) error {
	if raw == "" {
		return NewInputError(field, "is required")
	}
	if len(raw) > WebhookURLMaxBytes {
		return NewInputError(field, fmt.Sprintf("must be at most %d bytes", WebhookURLMaxBytes))
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return NewInputError(field, "must be an absolute http or https URL")
	}
	if u.User != nil {
		return NewInputError(field, "must not carry credentials: the signature authenticates deliveries")
	}
	if u.Fragment != "" {
		return NewInputError(field, "must not have a fragment")
	}
	if s.urlGuard != nil {
		if err := s.urlGuard.CheckURL(ctx, raw); err != nil {
			// The guard's message is for the caller; its detail (where the
			// name resolved, the resolver's answer) is the operator's.
			s.logger.InfoContext(ctx, "gateway: a webhook URL was refused", slog.Any("refusal", err))
			return NewInputError(field, err.Error())
		}
	}
	return nil
}

func webhookEvents(in []WebhookEventType, field string) ([]WebhookEventType, error) {
	if len(in) == 0 {
		return nil, NewInputError(field, "must name at least one event type")
	}
	out := make([]WebhookEventType, 0, len(in))
	for i, t := range in {
		if !t.IsValid() {
			return nil, NewInputError(fmt.Sprintf("%s[%d]", field, i), "is not an event type")
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	// Stored in the API's order, so equal sets read back equal.
	slices.SortFunc(out, func(a, b WebhookEventType) int {
		return slices.Index(WebhookEventTypes, a) - slices.Index(WebhookEventTypes, b)
	})
	return out, nil
}

func checkDescription(d *string, field string) error {
	if d != nil && len(*d) > WebhookDescriptionMaxBytes {
		return NewInputError(field, fmt.Sprintf("must be at most %d bytes", WebhookDescriptionMaxBytes))
	}
	return nil
}

func eventNames(events []WebhookEventType) []string {
	out := make([]string, len(events))
	for i, t := range events {
		out[i] = string(t)
	}
	return out
}

// webhookAudit records an admin's change to an endpoint; the URL is not
// recorded (it may carry a token in its query).
func webhookAudit(action string, p Principal, e WebhookEndpoint, now time.Time, md Metadata) AuditEntry {
	return auditEntry(action, []string{e.ID, now.Format(time.RFC3339Nano)},
		auditSubject{WorkspaceID: e.WorkspaceID, Principal: p.Name, TargetType: "webhook_endpoint", TargetID: e.ID}, md, now)
}

// WebhookDisabledAudit records the gateway disabling an endpoint.
func WebhookDisabledAudit(e WebhookEndpoint, reason string, now time.Time) AuditEntry {
	return auditEntry(AuditActionWebhookDisable, []string{e.ID, now.Format(time.RFC3339Nano)},
		auditSubject{WorkspaceID: e.WorkspaceID, Principal: "gateway", TargetType: "webhook_endpoint", TargetID: e.ID},
		Metadata{"reason": reason}, now)
}

func newWebhookSecret() string {
	b := make([]byte, webhookSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ClaimedWebhook is a delivery leased to a sender, with where to send it and
// the secrets to sign it with.
type ClaimedWebhook struct {
	Delivery WebhookDelivery
	URL      string
	Secrets  []string
}

// WebhookShare keeps one workspace from holding every sender of a process:
// a claim takes due deliveries in turns across workspaces (each workspace's
// oldest first, a workspace with fewer in flight first), and none of a
// workspace that already has PerWorkspace in flight at the claiming sender.
type WebhookShare struct {
	// PerWorkspace caps a workspace's deliveries in flight at the sender;
	// 0 sets no cap (turns still apply).
	PerWorkspace int
	// InFlight counts the sender's deliveries in flight, by workspace id.
	InFlight map[string]int
}

// WebhookAttempt is the outcome of one attempt at one delivery. It lands
// only while the delivery is still under the lease it ran under (the fence).
type WebhookAttempt struct {
	DeliveryID  string
	FenceWorker string
	FenceClaim  int
	// Status is SUCCESS, PENDING (to be retried at NextRetryAt) or
	// DEAD_LETTER.
	Status      WebhookDeliveryStatus
	StatusCode  *int
	Error       *string
	NextRetryAt *time.Time
	At          time.Time
}

// WebhookAttemptResult says what a completion did.
type WebhookAttemptResult struct {
	// Landed is false when the lease had been taken over.
	Landed bool
	// Disabled is set when this dead letter disabled the endpoint.
	Disabled bool
}
