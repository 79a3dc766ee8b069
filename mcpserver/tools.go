package mcpserver

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// maxRememberTurns caps the turns of one remember call.
const maxRememberTurns = 100

// derivedTurnIDPrefix marks a turn id the gateway derived from the turn.
const derivedTurnIDPrefix = "mcp-"

// Arguments and results. The descriptions are written for a model to read:
// they are what a client shows it of each tool.

type rememberArgs struct {
	WorkspaceID string     `json:"workspaceId,omitempty" jsonschema:"The workspace. Leave it out when your API key is bound to one."`
	UserID      string     `json:"userId,omitempty" jsonschema:"The person the conversation is with. Leave it out when your API key is bound to a user."`
	AgentID     string     `json:"agentId,omitempty" jsonschema:"You, the agent. Leave it out when your API key is bound to an agent."`
	SessionID   string     `json:"sessionId" jsonschema:"The conversation these turns belong to: the same id for every turn of one conversation."`
	Namespace   string     `json:"namespace,omitempty" jsonschema:"Where the memory is filed: '/'-separated segments such as 'support/tier1'; your key needs WRITE on it. Leave it out when your key writes in one namespace only (and in dev mode: 'default')."`
	Turns       []turnArgs `json:"turns" jsonschema:"The turns to remember, oldest first (1 to 100)."`
}

type turnArgs struct {
	Role    string `json:"role,omitempty" jsonschema:"Who spoke: USER when left out."`
	Content string `json:"content" jsonschema:"What was said, as plain text. Secrets and personal data are redacted before anything is stored."`
	TurnID  string `json:"turnId,omitempty" jsonschema:"Your id for this turn. Leave it out and the gateway derives one from the session, agent, role and content, so retrying a call stores nothing twice. Pass your own id when the same text is said twice on purpose and both should count."`
}

type rememberResult struct {
	Turns []rememberedTurn `json:"turns" jsonschema:"One entry per turn, in the order given."`
}

type rememberedTurn struct {
	TurnID    string   `json:"turnId"`
	GatewayID string   `json:"gatewayId"`
	Status    string   `json:"status" jsonschema:"Across the memory backends."`
	Replayed  bool     `json:"replayed" jsonschema:"True when this turn had been remembered already: nothing was stored again."`
	Refs      []refOut `json:"refs" jsonschema:"Where the turn was written: one memory ref per backend."`
	Errors    []string `json:"errors,omitempty"`
}

type refOut struct {
	ID      string `json:"id"`
	Backend string `json:"backend"`
	Type    string `json:"type"`
	Status  string `json:"status"`
}

type recallArgs struct {
	WorkspaceID string   `json:"workspaceId,omitempty" jsonschema:"The workspace. Leave it out when your API key is bound to one."`
	UserID      string   `json:"userId,omitempty" jsonschema:"Whose memories to search. Leave it out when your API key is bound to a user."`
	AgentID     string   `json:"agentId,omitempty" jsonschema:"You, the agent. Leave it out when your API key is bound to an agent."`
	Query       string   `json:"query" jsonschema:"What you want to know (described by the configured backends' matching)."`
	SessionID   string   `json:"sessionId,omitempty" jsonschema:"The current conversation, to weigh its own context."`
	Namespace   string   `json:"namespace,omitempty" jsonschema:"Search only this namespace and below. Leave it out to search everywhere your key reads (its one namespace, when it has one)."`
	Limit       int      `json:"limit,omitempty" jsonschema:"How many memories to return, 1 to 100 (default 10)."`
	Backends    []string `json:"backends,omitempty" jsonschema:"Search only these backends; all by default."`
}

type recallResult struct {
	Items    []recalledItem   `json:"items" jsonschema:"The merged memories, most relevant first."`
	Backends []backendOutcome `json:"backends" jsonschema:"How each backend answered."`
}

type recalledItem struct {
	Text          string   `json:"text"`
	Score         float64  `json:"score" jsonschema:"Relevance from 0 to 1 after merging."`
	SourceBackend string   `json:"sourceBackend"`
	AlsoFoundIn   []string `json:"alsoFoundIn,omitempty"`
	MemoryType    string   `json:"memoryType"`
	RefID         string   `json:"refId,omitempty" jsonschema:"The memory ref to name in give_feedback."`
	NativeURI     string   `json:"nativeUri,omitempty"`
}

type backendOutcome struct {
	Backend   string `json:"backend"`
	Outcome   string `json:"outcome"`
	ItemCount int    `json:"itemCount"`
	LatencyMs int    `json:"latencyMs"`
	Error     string `json:"error,omitempty"`
}

type commitArgs struct {
	WorkspaceID    string `json:"workspaceId,omitempty" jsonschema:"The workspace. Leave it out when your API key is bound to one."`
	UserID         string `json:"userId,omitempty" jsonschema:"The person the conversation was with. Leave it out when your API key is bound to a user."`
	AgentID        string `json:"agentId,omitempty" jsonschema:"You, the agent. Leave it out when your API key is bound to an agent."`
	SessionID      string `json:"sessionId" jsonschema:"The conversation to commit: one you remembered turns of."`
	Namespace      string `json:"namespace,omitempty" jsonschema:"The namespace the conversation was remembered in. Leave it out when your key writes in one namespace only (and in dev mode: 'default')."`
	IdempotencyKey string `json:"idempotencyKey,omitempty" jsonschema:"Commit again under a new key to commit turns added since; the same key returns the same job."`
	Wait           bool   `json:"wait,omitempty" jsonschema:"Wait until the job has finished, with progress notifications on each change."`
	WaitSeconds    int    `json:"waitSeconds,omitempty" jsonschema:"How long to wait when wait is true: 1 to 120 seconds (default 30)."`
}

type jobResult struct {
	JobID            string       `json:"jobId"`
	Kind             string       `json:"kind"`
	Status           string       `json:"status"`
	Terminal         bool         `json:"terminal" jsonschema:"True once the job will not change any more."`
	Created          *bool        `json:"created,omitempty" jsonschema:"False when the same commit had been accepted before and this is that job."`
	TimedOut         bool         `json:"timedOut,omitempty" jsonschema:"True when waiting ended before the job did."`
	SessionID        string       `json:"sessionId,omitempty"`
	CreatedRefsCount int          `json:"createdRefsCount"`
	Error            string       `json:"error,omitempty"`
	Backends         []jobBackend `json:"backends" jsonschema:"The job's work per backend."`
}

type jobBackend struct {
	Backend       string `json:"backend"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	LastErrorCode string `json:"lastErrorCode,omitempty"`
}

type feedbackArgs struct {
	WorkspaceID   string `json:"workspaceId,omitempty" jsonschema:"The workspace. Leave it out when your API key is bound to one."`
	UserID        string `json:"userId,omitempty" jsonschema:"The person the memory belongs to. Leave it out when your API key is bound to a user."`
	AgentID       string `json:"agentId,omitempty" jsonschema:"You, the agent. Leave it out when your API key is bound to an agent."`
	RefID         string `json:"refId" jsonschema:"The memory ref the feedback is about: a refId from recall."`
	Type          string `json:"type" jsonschema:"HELPFUL, NOT_HELPFUL, CORRECTION (give the right text in correction) or DELETE_REQUEST (may wait for review; forget_memory says which)."`
	Comment       string `json:"comment,omitempty" jsonschema:"Why, in a sentence."`
	Correction    string `json:"correction,omitempty" jsonschema:"For CORRECTION: what the memory should say instead."`
	Namespace     string `json:"namespace,omitempty" jsonschema:"Defaults to the memory's own namespace."`
	SourceEventID string `json:"sourceEventId,omitempty" jsonschema:"Your id for this feedback. Leave it out and one is derived from the ref, type and texts, so retrying stores it once."`
}

type feedbackResult struct {
	FeedbackID string `json:"feedbackId"`
	Status     string `json:"status" jsonschema:"RECEIVED is waiting for review; APPLIED is done in the backend; UNSUPPORTED: the backend cannot do it."`
	Created    bool   `json:"created" jsonschema:"False when this feedback had been recorded before."`
}

type jobStatusArgs struct {
	JobID string `json:"jobId" jsonschema:"A job id from commit_session or forget_me."`
}

type forgetArgs struct {
	WorkspaceID    string `json:"workspaceId,omitempty" jsonschema:"The workspace. Leave it out when your API key is bound to one."`
	UserID         string `json:"userId,omitempty" jsonschema:"Only for keys bound to no user, which must then hold ADMIN: whose memory to erase."`
	AgentID        string `json:"agentId,omitempty" jsonschema:"Erase only what this agent remembered. A key bound to an agent erases only that agent's memories."`
	Namespace      string `json:"namespace,omitempty" jsonschema:"Erase only this namespace and below. Required when your key writes only in some namespaces."`
	Reason         string `json:"reason" jsonschema:"Why the memory is erased (kept in the audit log; no personal data)."`
	IdempotencyKey string `json:"idempotencyKey,omitempty" jsonschema:"The same key returns the same erasure."`
}

type forgetResult struct {
	RequestID string `json:"requestId"`
	JobID     string `json:"jobId" jsonschema:"Follow it with job_status."`
	Status    string `json:"status" jsonschema:"PARTIAL: some backend keeps data it cannot delete, and says what (job_status)."`
	Created   bool   `json:"created" jsonschema:"False when an erasure of the same scope was already running (or had the same idempotency key)."`
}

func (s *Server) addTools() error {
	readOnly, notDestructive := true, false
	recallIn, err := jsonschema.For[recallArgs](nil)
	if err != nil {
		return fmt.Errorf("mcpserver: input schema of recall: %w", err)
	}
	recallIn.Properties["query"].Description = s.advice.query
	return firstError(
		addTool(s, &mcp.Tool{
			Name:  "remember",
			Title: "Remember conversation turns",
			Description: "Store turns of the current conversation in long-term memory. Call it as the conversation " +
				"happens, with each new user and assistant turn. Retrying a call is safe: turns already stored are not stored again.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: &notDestructive, IdempotentHint: true},
		}, s.remember, []enumAt{{"turns.[].role", enums(roles)}}, []enumAt{{"turns.[].status", operationStatuses}, {"turns.[].refs.[].backend", enums(s.backends)}, {"turns.[].refs.[].type", refTypes}, {"turns.[].refs.[].status", refStatuses}}),
		addTool(s, &mcp.Tool{
			Name:  "recall",
			Title: "Recall memories",
			Description: strings.TrimSpace("Search long-term memory for what is relevant now. Call it before answering when earlier " +
				"conversations, the user's preferences or known facts could help. Returns the memories as text, and structured with scores, backends and ref ids. " +
				s.advice.tool),
			InputSchema: recallIn,
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: readOnly},
		}, s.recall, []enumAt{{"backends.[]", enums(s.backends)}}, []enumAt{{"items.[].sourceBackend", enums(s.backends)}, {"items.[].alsoFoundIn.[]", enums(s.backends)}, {"items.[].memoryType", refTypes}, {"backends.[].backend", enums(s.backends)}, {"backends.[].outcome", retrievalOutcomes}}),
		addTool(s, &mcp.Tool{
			Name:  "commit_session",
			Title: "Commit a conversation",
			Description: "Ask the memory backends to distil a finished conversation into lasting memories. Call it " +
				"once when the conversation ends. Returns a job id at once; with wait: true, waits until the job has finished and reports progress.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: &notDestructive, IdempotentHint: true},
		}, s.commitSession, nil, jobEnums(s.backends)),
		addTool(s, &mcp.Tool{
			Name:  "give_feedback",
			Title: "Give feedback on a memory",
			Description: "Tell the gateway whether a recalled memory was HELPFUL or NOT_HELPFUL, fix it with a " +
				"CORRECTION, or ask for it to be deleted (DELETE_REQUEST). Corrections and deletions may wait for review.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: &notDestructive, IdempotentHint: true},
		}, s.giveFeedback, []enumAt{{"type", enums(feedbackTypes)}}, []enumAt{{"status", feedbackStatuses}}),
		addTool(s, &mcp.Tool{
			Name:        "job_status",
			Title:       "Job status",
			Description: "The state of a job started by commit_session or forget_me, with its progress per backend.",
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: readOnly},
		}, s.jobStatus, nil, jobEnums(s.backends)),
		addTool(s, &mcp.Tool{
			Name:  "list_memories",
			Title: "List my memories",
			Description: "List what is remembered about the user, newest first, with each memory's text (read from its backend) and " +
				"where it came from. Page with after = nextCursor. Use it when the user asks what you remember.",
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: readOnly},
		}, s.listMemories, []enumAt{{"type", refTypes}}, []enumAt{{"memories.[].type", refTypes}, {"memories.[].backend", enums(s.backends)}, {"memories.[].unavailable", textUnavailable}}),
		addTool(s, &mcp.Tool{
			Name:        "get_memory",
			Title:       "Read one memory",
			Description: "One memory of the user's with its text and provenance: the turn, session and job it came from.",
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: readOnly},
		}, s.getMemory, nil, []enumAt{{"type", refTypes}, {"backend", enums(s.backends)}, {"unavailable", textUnavailable}}),
		addTool(s, &mcp.Tool{
			Name:  "forget_memory",
			Title: "Forget one memory",
			Description: "Delete one memory of the user's when they ask you to forget it. Depending on the workspace's policy it is " +
				"deleted at once in its backend (mode DELETING) or waits for a person's review (AWAITING_REVIEW); the result says which.",
			Annotations: &mcp.ToolAnnotations{IdempotentHint: true},
		}, s.forgetMemory, nil, []enumAt{{"status", feedbackStatuses}, {"mode", []string{ForgetDeleting, ForgetAwaitingReview, ForgetUnsupported}}}),
		addTool(s, &mcp.Tool{
			Name:  "forget_me",
			Title: "Erase my memory",
			Description: "Erase what is remembered about the user your key belongs to, in every memory backend, and verify " +
				"it is gone: everything your key can reach (with a key bound to an agent, that agent's memories). Only when the " +
				"user asks for it: it cannot be undone. Returns a job id to follow with job_status.",
		}, s.forgetMe, nil, []enumAt{{"status", erasureStatuses}}),
	)
}

// jobEnums are the closed sets of a job's result.
func jobEnums(backends []backendtype.Backend) []enumAt {
	return []enumAt{{"kind", jobKinds}, {"status", jobStatuses}, {"backends.[].backend", enums(backends)}, {"backends.[].status", outboxStatuses}}
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) remember(ctx context.Context, _ *mcp.CallToolRequest, in rememberArgs) (rememberResult, string, error) {
	sc, err := s.bind(ctx, in.WorkspaceID, in.UserID, in.AgentID, true)
	if err != nil {
		return rememberResult{}, "", err
	}
	switch {
	case len(in.Turns) == 0:
		return rememberResult{}, "", gateway.NewInputError("turns", "must hold at least one turn")
	case len(in.Turns) > maxRememberTurns:
		return rememberResult{}, "", gateway.NewInputError("turns", fmt.Sprintf("must hold at most %d turns", maxRememberTurns))
	}
	// Checked before any is stored, so a bad role never leaves half a call.
	roles := make([]backendtype.Role, len(in.Turns))
	for i, t := range in.Turns {
		if roles[i], err = parseRole(t.Role); err != nil {
			return rememberResult{}, "", inField(fmt.Sprintf("turns[%d]", i), err)
		}
	}
	ns, err := sc.namespace(in.Namespace, true)
	if err != nil {
		return rememberResult{}, "", err
	}
	out := rememberResult{Turns: make([]rememberedTurn, 0, len(in.Turns))}
	for i, t := range in.Turns {
		turnID := t.TurnID
		if turnID == "" {
			turnID = DeriveTurnID(sc.WorkspaceID, in.SessionID, sc.AgentID, string(roles[i]), t.Content)
		}
		res, err := s.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
			WorkspaceID: sc.WorkspaceID, UserID: sc.UserID, AgentID: sc.AgentID,
			SessionID: in.SessionID, Namespace: ns, TurnID: turnID,
			Role: roles[i], Content: t.Content, SourceType: gateway.SourceMCP,
		})
		if err != nil {
			// The turns before this one are stored; retrying the call stores
			// them no second time.
			return rememberResult{}, "", &partialError{done: out, err: inField(fmt.Sprintf("turns[%d]", i), err)}
		}
		out.Turns = append(out.Turns, rememberedOf(res))
	}
	return out, rememberText(in.SessionID, out), nil
}

func rememberedOf(res gateway.IngestResult) rememberedTurn {
	t := rememberedTurn{TurnID: res.TurnID, GatewayID: res.GatewayID, Status: enum(res.Status), Replayed: res.Replayed, Errors: res.Errors, Refs: make([]refOut, 0, len(res.Refs))}
	for _, r := range res.Refs {
		t.Refs = append(t.Refs, refOut{ID: r.ID, Backend: enum(r.Backend), Type: enum(r.RefType), Status: enum(r.Status)})
	}
	return t
}

func rememberText(session string, out rememberResult) string {
	replayed := 0
	for _, t := range out.Turns {
		if t.Replayed {
			replayed++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Remembered %d turn(s) in session %s", len(out.Turns)-replayed, session)
	if replayed > 0 {
		fmt.Fprintf(&b, "; %d were remembered already", replayed)
	}
	b.WriteString(".")
	for _, t := range out.Turns {
		fmt.Fprintf(&b, "\n- %s: %s", t.TurnID, t.Status)
		for _, e := range t.Errors {
			fmt.Fprintf(&b, " (%s)", e)
		}
	}
	return b.String()
}

// DeriveTurnID is the turn id of a turn sent without one: a hash of where
// and what was said, so the same call retried names the same turn.
func DeriveTurnID(workspaceID, sessionID, agentID, role, content string) string {
	h := sha256.New()
	for _, part := range []string{workspaceID, sessionID, agentID, role, content} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return derivedTurnIDPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *Server) recall(ctx context.Context, _ *mcp.CallToolRequest, in recallArgs) (recallResult, string, error) {
	sc, err := s.bind(ctx, in.WorkspaceID, in.UserID, in.AgentID, true)
	if err != nil {
		return recallResult{}, "", err
	}
	ns, err := sc.namespace(in.Namespace, false)
	if err != nil {
		return recallResult{}, "", err
	}
	var backends []backendtype.Backend // nil: every backend
	for i, b := range in.Backends {
		backend := backendtype.Backend(strings.ToLower(b))
		if !slices.Contains(s.backends, backend) {
			return recallResult{}, "", gateway.NewInputError(fmt.Sprintf("backends[%d]", i), "must be one of "+strings.Join(enums(s.backends), ", "))
		}
		backends = append(backends, backend)
	}
	limit := in.Limit
	if limit == 0 {
		limit = 10
	} else if limit < 1 || limit > 100 {
		return recallResult{}, "", gateway.NewInputError("limit", "must be between 1 and 100")
	}
	res, err := s.svc.RetrieveContext(ctx, gateway.RetrieveContextInput{
		WorkspaceID: sc.WorkspaceID, UserID: sc.UserID, AgentID: sc.AgentID,
		Namespace: ns, Query: in.Query, SessionID: in.SessionID, Limit: limit, Backends: backends,
	})
	if err != nil {
		return recallResult{}, "", err
	}
	out := recallResult{Items: make([]recalledItem, 0, len(res.Items)), Backends: make([]backendOutcome, 0, len(res.Backends))}
	for _, it := range res.Items {
		item := recalledItem{Text: it.Text, Score: it.Score, SourceBackend: enum(it.SourceBackend), MemoryType: enum(it.MemoryType),
			RefID: deref(it.RefID), NativeURI: deref(it.NativeURI)}
		for _, b := range it.AlsoFoundIn {
			item.AlsoFoundIn = append(item.AlsoFoundIn, enum(b))
		}
		out.Items = append(out.Items, item)
	}
	for _, b := range res.Backends {
		out.Backends = append(out.Backends, backendOutcome{Backend: enum(b.Backend), Outcome: enum(b.Outcome), ItemCount: b.ItemCount, LatencyMs: b.LatencyMs, Error: deref(b.Error)})
	}
	return out, recallText(out), nil
}

func recallText(out recallResult) string {
	if len(out.Items) == 0 {
		return "No memories matched."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d memories, most relevant first:", len(out.Items))
	for i, it := range out.Items {
		fmt.Fprintf(&b, "\n%d. %s\n   (score %.2f, %s", i+1, it.Text, it.Score, strings.ToLower(it.SourceBackend))
		if it.RefID != "" {
			fmt.Fprintf(&b, ", ref %s", it.RefID)
		}
		b.WriteString(")")
	}
	return b.String()
}

func (s *Server) commitSession(ctx context.Context, req *mcp.CallToolRequest, in commitArgs) (jobResult, string, error) {
	sc, err := s.bind(ctx, in.WorkspaceID, in.UserID, in.AgentID, true)
	if err != nil {
		return jobResult{}, "", err
	}
	wait := time.Duration(DefaultWaitSeconds) * time.Second
	if in.WaitSeconds != 0 {
		if in.WaitSeconds < 1 || in.WaitSeconds > MaxWaitSeconds {
			return jobResult{}, "", gateway.NewInputError("waitSeconds", fmt.Sprintf("must be between 1 and %d", MaxWaitSeconds))
		}
		wait = time.Duration(in.WaitSeconds) * time.Second
	}
	ns, err := sc.namespace(in.Namespace, true)
	if err != nil {
		return jobResult{}, "", err
	}
	if in.SessionID == "" {
		return jobResult{}, "", gateway.NewInputError("sessionId", "is required")
	}
	// A session nobody remembered turns of (in this key's sight) has
	// nothing to commit: refused, rather than a job that finds nothing.
	if _, err := s.svc.Reader(ctx).Session(ctx, sc.WorkspaceID, in.SessionID); gateway.IsNotFound(err) {
		return jobResult{}, "", gateway.NewInputError("sessionId", "has no turns: remember the conversation's turns before committing it")
	} else if err != nil {
		return jobResult{}, "", err
	}
	res, err := s.svc.CommitSession(ctx, gateway.CommitSessionInput{
		WorkspaceID: sc.WorkspaceID, UserID: sc.UserID, AgentID: sc.AgentID,
		SessionID: in.SessionID, Namespace: ns, IdempotencyKey: in.IdempotencyKey,
	})
	if err != nil {
		return jobResult{}, "", err
	}
	job, timedOut := res.Job, false
	if in.Wait && !job.Status.Terminal() {
		job, timedOut, err = s.waitForJob(ctx, req, job, wait)
		if err != nil {
			return jobResult{}, "", err
		}
	}
	out, err := s.jobResult(ctx, job)
	if err != nil {
		return jobResult{}, "", err
	}
	out.Created, out.TimedOut = &res.Created, timedOut
	return out, jobText(out), nil
}

// waitForJob follows a job until it is terminal or wait has passed, and
// sends a progress notification on every change when the caller asked for
// progress.
func (s *Server) waitForJob(ctx context.Context, req *mcp.CallToolRequest, job gateway.CommitJob, wait time.Duration) (gateway.CommitJob, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	updates, err := s.svc.SubscribeCommitJob(ctx, job.ID)
	if err != nil {
		// The commit is accepted: a wait that cannot be had (a cap) answers
		// the job as it is, to be asked again with job_status.
		s.logger.WarnContext(ctx, "mcp: cannot wait for a job", slog.String("job", job.ID), slog.String("err", err.Error()))
		return job, true, nil
	}
	token := req.Params.GetProgressToken()
	step := 0
	for update := range updates {
		job = update
		if token == nil || req.Session == nil {
			continue
		}
		step++
		// A client that went away ends the wait with ctx; a lost
		// notification does not end it.
		note := &mcp.ProgressNotificationParams{
			ProgressToken: token, Progress: float64(step),
			Message: fmt.Sprintf("job %s is %s", job.ID, enum(job.Status)),
		}
		if req.Session.NotifyProgress(ctx, note) == nil {
			logProgress(ctx, note)
		}
	}
	// Not terminal: the wait ran out (or the caller left), and the answer
	// is the latest state.
	return job, !job.Status.Terminal(), nil
}

func (s *Server) jobStatus(ctx context.Context, _ *mcp.CallToolRequest, in jobStatusArgs) (jobResult, string, error) {
	if in.JobID == "" {
		return jobResult{}, "", gateway.NewInputError("jobId", "is required")
	}
	job, err := s.svc.Reader(ctx).CommitJob(ctx, in.JobID)
	if err != nil {
		if gateway.IsNotFound(err) {
			return jobResult{}, "", &gateway.NotFoundError{Field: "jobId", What: "job"}
		}
		return jobResult{}, "", err
	}
	out, err := s.jobResult(ctx, job)
	if err != nil {
		return jobResult{}, "", err
	}
	return out, jobText(out), nil
}

// jobResult is a job with its work per backend.
func (s *Server) jobResult(ctx context.Context, job gateway.CommitJob) (jobResult, error) {
	out := jobResult{
		JobID: job.ID, Kind: enum(gateway.KindOf(job)), Status: enum(job.Status), Terminal: job.Status.Terminal(),
		SessionID: job.SessionID, CreatedRefsCount: job.CreatedRefsCount, Error: deref(job.ErrorMessage),
		Backends: []jobBackend{},
	}
	page, err := s.svc.Reader(ctx).ListOutboxEvents(ctx, gateway.EventFilter{WorkspaceID: job.WorkspaceID, JobID: job.ID}, gateway.PageRequest{First: gateway.PageSizeMax})
	if err != nil {
		return jobResult{}, fmt.Errorf("error listing the events of job %s: %w", job.ID, err)
	}
	for _, e := range page.Items {
		out.Backends = append(out.Backends, jobBackend{Backend: enum(e.Backend), Status: enum(e.Status), Attempts: e.AttemptCount, LastErrorCode: deref(e.LastErrorCode)})
	}
	return out, nil
}

func jobText(out jobResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %s is %s", out.JobID, out.Status)
	if out.TimedOut {
		b.WriteString(" (still running when the wait ended: ask job_status later)")
	}
	b.WriteString(".")
	for _, e := range out.Backends {
		fmt.Fprintf(&b, "\n- %s: %s after %d attempt(s)", strings.ToLower(e.Backend), e.Status, e.Attempts)
		if e.LastErrorCode != "" {
			fmt.Fprintf(&b, ", last error %s", e.LastErrorCode)
		}
	}
	return b.String()
}

func (s *Server) giveFeedback(ctx context.Context, _ *mcp.CallToolRequest, in feedbackArgs) (feedbackResult, string, error) {
	sc, err := s.bind(ctx, in.WorkspaceID, in.UserID, in.AgentID, true)
	if err != nil {
		return feedbackResult{}, "", err
	}
	kind, err := parseFeedbackType(in.Type)
	if err != nil {
		return feedbackResult{}, "", err
	}
	if in.RefID == "" {
		return feedbackResult{}, "", gateway.NewInputError("refId", "is required")
	}
	ns := in.Namespace
	if ns == "" {
		ref, err := s.svc.Reader(ctx).MemoryRef(ctx, in.RefID)
		if err != nil {
			if gateway.IsNotFound(err) {
				return feedbackResult{}, "", &gateway.NotFoundError{Field: "refId", What: "memory ref"}
			}
			return feedbackResult{}, "", err
		}
		ns = ref.Namespace
	}
	source := in.SourceEventID
	if source == "" {
		source = derivedFeedbackID(sc, in.RefID, string(kind), in.Comment, in.Correction)
	}
	res, err := s.svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
		WorkspaceID: sc.WorkspaceID, UserID: sc.UserID, AgentID: sc.AgentID, Namespace: ns,
		MemoryRefID: in.RefID, FeedbackType: kind, Comment: in.Comment, Correction: in.Correction,
		SourceType: gateway.SourceMCP, SourceEventID: source,
	})
	if err != nil {
		return feedbackResult{}, "", err
	}
	out := feedbackResult{FeedbackID: res.Feedback.ID, Status: enum(res.Feedback.Status), Created: res.Created}
	text := fmt.Sprintf("Feedback %s on %s is %s.", out.FeedbackID, in.RefID, out.Status)
	if !res.Created {
		text += " It had been recorded before."
	}
	return out, text, nil
}

func derivedFeedbackID(sc scope, refID, kind, comment, correction string) string {
	h := sha256.New()
	for _, part := range []string{sc.WorkspaceID, sc.UserID, sc.AgentID, refID, kind, comment, correction} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return derivedTurnIDPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *Server) forgetMe(ctx context.Context, _ *mcp.CallToolRequest, in forgetArgs) (forgetResult, string, error) {
	sc, err := s.bind(ctx, in.WorkspaceID, in.UserID, in.AgentID, false)
	if err != nil {
		return forgetResult{}, "", err
	}
	res, err := s.svc.EraseSubject(ctx, gateway.EraseSubjectInput{
		WorkspaceID: sc.WorkspaceID, UserID: sc.UserID, AgentID: sc.AgentID, Namespace: in.Namespace,
		Reason: in.Reason, IdempotencyKey: in.IdempotencyKey,
	})
	if err != nil {
		return forgetResult{}, "", err
	}
	out := forgetResult{RequestID: res.Request.ID, JobID: res.Job.ID, Status: enum(gateway.ErasureStatusOf(res.Job)), Created: res.Created}
	text := fmt.Sprintf("Erasure %s is %s; follow job %s with job_status.", out.RequestID, out.Status, out.JobID)
	if !res.Created {
		text = fmt.Sprintf("An erasure of this scope was already under way: %s is %s; follow job %s with job_status.", out.RequestID, out.Status, out.JobID)
	}
	return out, text, nil
}

func parseRole(s string) (backendtype.Role, error) {
	switch r := backendtype.Role(strings.ToLower(s)); r {
	case backendtype.RoleUser, backendtype.RoleAssistant, backendtype.RoleSystem, backendtype.RoleTool:
		return r, nil
	case "":
		// The user's words are what an agent most often remembers.
		return backendtype.RoleUser, nil
	}
	return "", gateway.NewInputError("role", "must be one of "+strings.Join(enums(roles), ", "))
}

func parseFeedbackType(s string) (backendtype.FeedbackType, error) {
	switch t := backendtype.FeedbackType(strings.ToLower(s)); t {
	case backendtype.FeedbackHelpful, backendtype.FeedbackNotHelpful, backendtype.FeedbackCorrection, backendtype.FeedbackDeleteRequest:
		return t, nil
	case "":
		return "", gateway.NewInputError("type", "is required")
	}
	return "", gateway.NewInputError("type", "must be one of "+strings.Join(enums(feedbackTypes), ", "))
}

// enum is a domain value as the GraphQL enum names it.
func enum[T ~string](v T) string { return strings.ToUpper(string(v)) }

// enums are domain values as the GraphQL enum names them.
func enums[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = enum(v)
	}
	return out
}

// The closed sets the tools take (in any case) and name (in upper case).
var (
	roles         = []backendtype.Role{backendtype.RoleUser, backendtype.RoleAssistant, backendtype.RoleSystem, backendtype.RoleTool}
	feedbackTypes = []backendtype.FeedbackType{backendtype.FeedbackHelpful, backendtype.FeedbackNotHelpful, backendtype.FeedbackCorrection, backendtype.FeedbackDeleteRequest}
)

// optionalEnum is an optional domain value as the GraphQL enum names it, or "".
func optionalEnum[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return enum(*p)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// The agent's own memories.

type listMemoriesArgs struct {
	WorkspaceID string `json:"workspaceId,omitempty" jsonschema:"The workspace. Leave it out when your API key is bound to one."`
	UserID      string `json:"userId,omitempty" jsonschema:"Whose memories. Leave it out when your API key is bound to a user."`
	AgentID     string `json:"agentId,omitempty" jsonschema:"Only what this agent remembered. A key bound to an agent sees only its own."`
	Namespace   string `json:"namespace,omitempty" jsonschema:"Only this namespace and below."`
	Type        string `json:"type,omitempty" jsonschema:"Only memories of this type."`
	First       int    `json:"first,omitempty" jsonschema:"How many, 1 to 50 (default 20)."`
	After       string `json:"after,omitempty" jsonschema:"The nextCursor of the previous page."`
}

type memoryOut struct {
	RefID        string `json:"refId" jsonschema:"Name it in get_memory, forget_memory or give_feedback."`
	Text         string `json:"text,omitempty" jsonschema:"What the memory says, read from its backend now."`
	Unavailable  string `json:"unavailable,omitempty" jsonschema:"Why there is no text: NOT_READABLE (the backend cannot read this kind back), NOT_FOUND (gone from the backend), BACKEND_FAILED."`
	Type         string `json:"type"`
	Backend      string `json:"backend"`
	Namespace    string `json:"namespace"`
	AgentID      string `json:"agentId"`
	SessionID    string `json:"sessionId"`
	TurnID       string `json:"turnId,omitempty"`
	CreatedAt    string `json:"createdAt"`
	GatewayID    string `json:"gatewayId" jsonschema:"The write it came from: a turn, a commit job or a correction."`
	ProvenanceID string `json:"provenanceId"`
	Source       string `json:"source,omitempty" jsonschema:"How it was made: ingest, commit_session, feedback, …"`
}

type listMemoriesResult struct {
	Memories   []memoryOut `json:"memories" jsonschema:"Newest first."`
	NextCursor string      `json:"nextCursor,omitempty" jsonschema:"Pass it as after for the next page; absent on the last page."`
}

type getMemoryArgs struct {
	RefID string `json:"refId" jsonschema:"A refId from recall or list_memories."`
}

type forgetMemoryArgs struct {
	RefID   string `json:"refId" jsonschema:"The memory to forget: a refId from recall or list_memories."`
	Reason  string `json:"reason,omitempty" jsonschema:"Why, in a sentence (kept for the review; no personal data)."`
	AgentID string `json:"agentId,omitempty" jsonschema:"You, the agent. Leave it out when your API key is bound to an agent."`
}

type forgetMemoryResult struct {
	FeedbackID string `json:"feedbackId"`
	Status     string `json:"status"`
	Mode       string `json:"mode" jsonschema:"DELETING: the workspace's policy deletes a user's own memory at once, in its backend; AWAITING_REVIEW: the policy has a person review deletions first; UNSUPPORTED: the backend cannot delete it."`
	JobID      string `json:"jobId,omitempty" jsonschema:"The deletion's job, to follow with job_status."`
	Created    bool   `json:"created" jsonschema:"False when the same request had been made before."`
}

// Modes of forget_memory.
const (
	ForgetDeleting       = "DELETING"
	ForgetAwaitingReview = "AWAITING_REVIEW"
	ForgetUnsupported    = "UNSUPPORTED"
)

func (s *Server) listMemories(ctx context.Context, _ *mcp.CallToolRequest, in listMemoriesArgs) (listMemoriesResult, string, error) {
	sc, err := s.bind(ctx, in.WorkspaceID, in.UserID, in.AgentID, false)
	if err != nil {
		return listMemoriesResult{}, "", err
	}
	first := cmp.Or(in.First, 20)
	if first < 1 || first > 50 {
		return listMemoriesResult{}, "", gateway.NewInputError("first", "must be between 1 and 50")
	}
	var refType backendtype.RefType
	if in.Type != "" {
		if refType = backendtype.RefType(strings.ToLower(in.Type)); !slices.Contains(refTypes, in.Type) && !slices.Contains(refTypes, strings.ToUpper(in.Type)) {
			return listMemoriesResult{}, "", gateway.NewInputError("type", "must be one of "+strings.Join(refTypes, ", "))
		}
	}
	page := gateway.PageRequest{First: first}
	if in.After != "" {
		if page.After, err = gateway.DecodeCursor(in.After); err != nil {
			return listMemoriesResult{}, "", gateway.NewInputError("after", "is not a cursor this tool gave")
		}
	}
	res, err := s.svc.Memories(ctx, gateway.MemoriesInput{
		WorkspaceID: sc.WorkspaceID, UserID: sc.UserID, AgentID: sc.AgentID, Namespace: in.Namespace, RefType: refType,
	}, page)
	if err != nil {
		return listMemoriesResult{}, "", err
	}
	out := listMemoriesResult{Memories: make([]memoryOut, 0, len(res.Items))}
	for _, m := range res.Items {
		out.Memories = append(out.Memories, memoryOf(m))
	}
	if res.HasNextPage && len(res.Items) > 0 {
		last := res.Items[len(res.Items)-1].Ref
		out.NextCursor = gateway.EncodeCursor(last.CreatedAt, last.ID)
	}
	return out, listMemoriesText(out), nil
}

func memoryOf(m gateway.MemoryText) memoryOut {
	r := m.Ref
	return memoryOut{
		RefID: r.ID, Text: deref(m.Text), Unavailable: optionalEnum(m.Unavailable), Type: enum(r.RefType), Backend: enum(r.Backend),
		Namespace: r.Namespace, AgentID: r.AgentID, SessionID: r.SessionID, TurnID: deref(r.TurnID),
		CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339), GatewayID: r.GatewayID, ProvenanceID: r.ProvenanceID, Source: deref(r.SourceType),
	}
}

func listMemoriesText(out listMemoriesResult) string {
	if len(out.Memories) == 0 {
		return "No memories."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d memories, newest first:", len(out.Memories))
	for _, m := range out.Memories {
		text := m.Text
		if text == "" {
			text = "(" + m.Unavailable + ")"
		}
		fmt.Fprintf(&b, "\n- %s [%s, %s, %s]: %s", m.RefID, strings.ToLower(m.Type), strings.ToLower(m.Backend), m.Namespace, text)
	}
	if out.NextCursor != "" {
		b.WriteString("\nMore: call again with after = " + out.NextCursor)
	}
	return b.String()
}

func (s *Server) getMemory(ctx context.Context, _ *mcp.CallToolRequest, in getMemoryArgs) (memoryOut, string, error) {
	if in.RefID == "" {
		return memoryOut{}, "", gateway.NewInputError("refId", "is required")
	}
	found, err := s.svc.MemoryTexts(ctx, []string{in.RefID})
	if err != nil {
		return memoryOut{}, "", err
	}
	if len(found) == 0 {
		return memoryOut{}, "", &gateway.NotFoundError{Field: "refId", What: "memory of yours"}
	}
	m := memoryOf(found[0])
	text := m.Text
	if text == "" {
		text = "(no text: " + m.Unavailable + ")"
	}
	return m, fmt.Sprintf("%s (%s in %s, %s, remembered %s): %s", m.RefID, strings.ToLower(m.Type), strings.ToLower(m.Backend), m.Namespace, m.CreatedAt, text), nil
}

func (s *Server) forgetMemory(ctx context.Context, _ *mcp.CallToolRequest, in forgetMemoryArgs) (forgetMemoryResult, string, error) {
	if in.RefID == "" {
		return forgetMemoryResult{}, "", gateway.NewInputError("refId", "is required")
	}
	// Only one's own memory, found again once deleted: a retry answers the
	// request already made.
	ref, found, err := s.svc.OwnMemoryRef(ctx, in.RefID)
	if err != nil {
		return forgetMemoryResult{}, "", err
	}
	if !found {
		return forgetMemoryResult{}, "", &gateway.NotFoundError{Field: "refId", What: "memory of yours"}
	}
	sc, err := s.bind(ctx, ref.WorkspaceID, ref.UserID, in.AgentID, true)
	if err != nil {
		return forgetMemoryResult{}, "", err
	}
	res, err := s.svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
		WorkspaceID: sc.WorkspaceID, UserID: sc.UserID, AgentID: sc.AgentID, Namespace: ref.Namespace,
		MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackDeleteRequest, Comment: in.Reason,
		SourceType: gateway.SourceMCP, SourceEventID: derivedFeedbackID(sc, ref.ID, "forget", "", ""),
	})
	if err != nil {
		return forgetMemoryResult{}, "", err
	}
	fb := res.Feedback
	out := forgetMemoryResult{FeedbackID: fb.ID, Status: enum(fb.Status), Created: res.Created, JobID: deref(fb.JobID)}
	switch fb.Status {
	case gateway.FeedbackReceived:
		out.Mode = ForgetAwaitingReview
	case gateway.FeedbackUnsupported, gateway.FeedbackSkipped:
		out.Mode = ForgetUnsupported
	default:
		out.Mode = ForgetDeleting
	}
	var text string
	switch out.Mode {
	case ForgetDeleting:
		text = fmt.Sprintf("Deleting %s in its backend (job %s): the workspace's policy deletes a user's own memory at once.", ref.ID, out.JobID)
	case ForgetAwaitingReview:
		text = fmt.Sprintf("Asked to delete %s: the workspace's policy has a person review deletions first.", ref.ID)
	default:
		text = fmt.Sprintf("%s cannot be deleted by its backend (%s).", ref.ID, deref(fb.ResultReason))
	}
	return out, text, nil
}
