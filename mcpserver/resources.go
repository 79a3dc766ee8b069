package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// SessionURITemplate is the session graph's resource template.
const SessionURITemplate = "memory://{workspaceId}/sessions/{sessionId}"

// sessionResourceLimit caps each list of a session resource; "truncated"
// says when a list had more.
const sessionResourceLimit = gateway.PageSizeMax

func (s *Server) addResources() {
	s.mcp.AddResourceTemplate(&mcp.ResourceTemplate{
		Name:        "session",
		Title:       "Session memory graph",
		Description: "What the gateway recorded for one conversation: its memory refs per backend, the commit jobs and the feedback given on its memories. No conversation content.",
		MIMEType:    "application/json",
		URITemplate: SessionURITemplate,
	}, s.readSession)
}

// SessionURI is the resource URI of a session.
func SessionURI(workspaceID, sessionID string) string {
	return "memory://" + url.PathEscape(workspaceID) + "/sessions/" + url.PathEscape(sessionID)
}

// parseSessionURI reads a session resource URI. Its parts are
// percent-encoded path segments (ids may hold any printable character).
func parseSessionURI(uri string) (workspaceID, sessionID string, ok bool) {
	rest, found := strings.CutPrefix(uri, "memory://")
	if !found {
		return "", "", false
	}
	ws, sess, found := strings.Cut(rest, "/sessions/")
	if !found || ws == "" || sess == "" || strings.ContainsAny(ws, "/?#") || strings.ContainsAny(sess, "/?#") {
		return "", "", false
	}
	ws, err1 := url.PathUnescape(ws)
	sess, err2 := url.PathUnescape(sess)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return ws, sess, true
}

type sessionGraph struct {
	WorkspaceID string        `json:"workspaceId"`
	SessionID   string        `json:"sessionId"`
	Refs        []sessionRef  `json:"refs"`
	Jobs        []sessionJob  `json:"jobs"`
	Feedback    []sessionNote `json:"feedback"`
	// Truncated names the lists that held more than the resource shows.
	Truncated []string `json:"truncated,omitempty"`
}

type sessionRef struct {
	ID                string    `json:"id"`
	Backend           string    `json:"backend"`
	Type              string    `json:"type"`
	Status            string    `json:"status"`
	Namespace         string    `json:"namespace"`
	AgentID           string    `json:"agentId"`
	TurnID            string    `json:"turnId,omitempty"`
	JobID             string    `json:"jobId,omitempty"`
	NativeURI         string    `json:"nativeUri,omitempty"`
	SupersededByRefID string    `json:"supersededByRefId,omitempty"`
	CreatedAt         time.Time `json:"createdAt"`
}

type sessionJob struct {
	ID               string     `json:"id"`
	Status           string     `json:"status"`
	CreatedRefsCount int        `json:"createdRefsCount"`
	CreatedAt        time.Time  `json:"createdAt"`
	FinishedAt       *time.Time `json:"finishedAt,omitempty"`
}

type sessionNote struct {
	ID        string    `json:"id"`
	RefID     string    `json:"refId"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// readSession serves a session's graph under the caller's read grants: what
// the key may not read is left out, and a session with nothing visible is
// not found.
func (s *Server) readSession(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	ctx, stop := requestContext(ctx, req.Extra)
	defer stop()
	uri := req.Params.URI
	ws, sess, ok := parseSessionURI(uri)
	if !ok {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	graph, err := s.sessionGraph(ctx, ws, sess)
	if err != nil {
		return nil, s.resourceError(ctx, uri, err)
	}
	body, err := json.Marshal(graph)
	if err != nil {
		return nil, s.resourceError(ctx, uri, err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(body)}}}, nil
}

func (s *Server) sessionGraph(ctx context.Context, ws, sess string) (sessionGraph, error) {
	reader := s.svc.Reader(ctx)
	if _, err := reader.Session(ctx, ws, sess); err != nil {
		return sessionGraph{}, err
	}
	page := gateway.PageRequest{First: sessionResourceLimit}
	g := sessionGraph{WorkspaceID: ws, SessionID: sess, Refs: []sessionRef{}, Jobs: []sessionJob{}, Feedback: []sessionNote{}}
	refs, err := reader.ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: ws, SessionID: sess}, page)
	if err != nil {
		return sessionGraph{}, fmt.Errorf("error listing the refs of session %s: %w", sess, err)
	}
	if refs.HasNextPage {
		g.Truncated = append(g.Truncated, "refs")
	}
	ids := make([]string, 0, len(refs.Items))
	for _, r := range refs.Items {
		ids = append(ids, r.ID)
		g.Refs = append(g.Refs, sessionRef{
			ID: r.ID, Backend: enum(r.Backend), Type: enum(r.RefType), Status: enum(r.Status), Namespace: r.Namespace, AgentID: r.AgentID,
			TurnID: deref(r.TurnID), JobID: deref(r.JobID), NativeURI: deref(r.NativeURI), SupersededByRefID: deref(r.SupersededByRefID), CreatedAt: r.CreatedAt,
		})
	}
	jobs, err := reader.ListCommitJobs(ctx, gateway.JobFilter{WorkspaceID: ws, SessionID: sess}, page)
	if err != nil {
		return sessionGraph{}, fmt.Errorf("error listing the jobs of session %s: %w", sess, err)
	}
	if jobs.HasNextPage {
		g.Truncated = append(g.Truncated, "jobs")
	}
	for _, j := range jobs.Items {
		g.Jobs = append(g.Jobs, sessionJob{ID: j.ID, Status: enum(j.Status), CreatedRefsCount: j.CreatedRefsCount, CreatedAt: j.CreatedAt, FinishedAt: j.FinishedAt})
	}
	notes, err := reader.ListFeedbackGrouped(ctx, gateway.FeedbackByRef, ids, gateway.FeedbackFilter{WorkspaceID: ws}, page)
	if err != nil {
		return sessionGraph{}, fmt.Errorf("error listing the feedback of session %s: %w", sess, err)
	}
	for _, id := range ids {
		p := notes[id]
		if p.HasNextPage && !slices.Contains(g.Truncated, "feedback") {
			g.Truncated = append(g.Truncated, "feedback")
		}
		for _, f := range p.Items {
			g.Feedback = append(g.Feedback, sessionNote{ID: f.ID, RefID: f.MemoryRefID, Type: enum(f.FeedbackType), Status: enum(f.Status), CreatedAt: f.CreatedAt})
		}
	}
	return g, nil
}

// resourceError is a failed read as a JSON-RPC error: not found for what the
// caller cannot see (as GraphQL answers it), the code and message otherwise,
// internal errors logged and never shown.
func (s *Server) resourceError(ctx context.Context, uri string, err error) error {
	if gateway.IsNotFound(err) || errors.Is(err, gateway.ErrForbidden) {
		return mcp.ResourceNotFoundError(uri)
	}
	res := s.toolError(ctx, "resources/read", err)
	e := apierror.Classify(err, nil)
	data, _ := json.Marshal(res.StructuredContent)
	code := int64(jsonrpc.CodeInvalidParams)
	if e.Code == apierror.CodeInternal || e.Code == apierror.CodeUnavailable {
		code = jsonrpc.CodeInternalError
	}
	return &jsonrpc.Error{Code: code, Message: e.Code + ": " + e.Message, Data: data}
}

func (s *Server) addPrompts() {
	s.mcp.AddPrompt(&mcp.Prompt{
		Name:        "use_memory",
		Title:       "Use long-term memory",
		Description: "How and when to remember, recall, commit and give feedback with Memory Gateway.",
	}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{
			Description: "How to use Memory Gateway's tools",
			Messages:    []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: fmt.Sprintf(useMemoryPrompt, s.advice.prompt)}}},
		}, nil
	})
}

const useMemoryPrompt = `You have long-term memory through the Memory Gateway tools. Use them like this:

1. At the start of a conversation, and whenever the user refers to something
   from before, call recall %s.
   Use what comes back as background; say so when a memory decides your answer.
2. After each exchange, call remember with the new turns (the user's and your
   own), all with the same sessionId for this conversation. Retrying a call is
   safe. Do not remember secrets on purpose: they are redacted, but better
   never sent.
3. When the conversation is over, call commit_session once for its sessionId,
   so the backends distil it into lasting memories. You need not wait for it.
4. When a recalled memory helped, give_feedback HELPFUL on its refId; when it
   is wrong, CORRECTION with the right text; when the user wants it gone,
   DELETE_REQUEST.
5. When the user asks what you remember, list_memories; when they ask you to
   forget one thing, forget_memory on its refId. Use forget_me only when the
   user asks for everything about them to be erased.`
