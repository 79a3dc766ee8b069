// Package mcpserver serves the gateway to agents over the Model Context
// Protocol: tools to remember, recall, commit, give feedback, follow jobs and
// erase the caller's own memory; the session graph as a resource; a prompt
// on how to use them. Every tool calls the domain service, so the same
// validation, grants, redaction, idempotency, rate limits and audit apply as
// over GraphQL; audit entries record via "mcp".
package mcpserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Name is the server's name in the MCP handshake.
const Name = "memory-gateway"

// Defaults for waiting on a job.
const (
	DefaultWaitSeconds = 30
	MaxWaitSeconds     = 120
)

// TokenInfo.Extra keys: the authenticated principal, and the done channel of
// the HTTP request (the SDK runs tools on a context of its own, which older
// protocol revisions do not cancel with the request).
const (
	principalExtra   = "principal"
	requestDoneExtra = "request_done"
)

// Service is what the tools call: the gateway's domain service.
type Service interface {
	Caller(ctx context.Context) (gateway.Principal, error)
	IngestConversationTurn(ctx context.Context, in gateway.IngestTurnInput) (gateway.IngestResult, error)
	RetrieveContext(ctx context.Context, in gateway.RetrieveContextInput) (gateway.RetrieveResult, error)
	CommitSession(ctx context.Context, in gateway.CommitSessionInput) (gateway.CommitSessionResult, error)
	RecordMemoryFeedback(ctx context.Context, in gateway.RecordFeedbackInput) (gateway.RecordFeedbackResult, error)
	EraseSubject(ctx context.Context, in gateway.EraseSubjectInput) (gateway.EraseSubjectResult, error)
	Memories(ctx context.Context, in gateway.MemoriesInput, page gateway.PageRequest) (gateway.Page[gateway.MemoryText], error)
	MemoryTexts(ctx context.Context, refIDs []string) ([]gateway.MemoryText, error)
	OwnMemoryRef(ctx context.Context, refID string) (gateway.MemoryRef, bool, error)
	SubscribeCommitJob(ctx context.Context, id string) (<-chan gateway.CommitJob, error)
	Reader(ctx context.Context) gateway.Reader
}

// Options configure a Server.
type Options struct {
	Service Service
	// Env is where the server logs.
	Env lifecycle.Env
	// Version is reported in the handshake.
	Version string
	// DevMode: no API keys are configured; calls that name no workspace,
	// user or agent act as DevWorkspace, DevUser and DevAgent.
	DevMode bool
	// Backends are the configured backends: what recall may be narrowed
	// to, and how they match a query, which the descriptions of recall, of
	// the use_memory prompt and the instructions tell the model.
	Backends []Backend
	// ObserveTool, when set, sees every tool call: the caller's name, the
	// tool, the outcome ("ok" or the error's code) and how long it took.
	ObserveTool func(ctx context.Context, principal, tool, outcome string, took time.Duration)
}

// Server is the gateway's MCP server.
type Server struct {
	svc      Service
	logger   *slog.Logger
	mcp      *mcp.Server
	dev      bool
	backends []backendtype.Backend
	advice   recallAdvice
	observe  func(ctx context.Context, principal, tool, outcome string, took time.Duration)
}

// New builds the MCP server with every tool, resource and prompt.
func New(opts Options) (*Server, error) {
	if opts.Service == nil {
		return nil, fmt.Errorf("mcpserver: Service is required")
	}
	return build(opts)
}

// build is New without a service: a server whose definitions are read but
// whose tools are never called (what a proxy serves before its gateway
// answers).
func build(opts Options) (*Server, error) {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.ObserveTool == nil {
		opts.ObserveTool = func(context.Context, string, string, string, time.Duration) {}
	}
	s := &Server{svc: opts.Service, logger: opts.Env.Logger(), dev: opts.DevMode, advice: adviceFor(opts.Backends), observe: opts.ObserveTool}
	for _, b := range opts.Backends {
		s.backends = append(s.backends, b.Name)
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: Name, Title: "Memory Gateway", Version: opts.Version}, &mcp.ServerOptions{
		Instructions: strings.TrimSpace(instructions + "\n\n" + s.advice.tool),
		Logger:       s.logger,
		SetCacheable: privateReads,
	})
	if err := s.addTools(); err != nil {
		return nil, err
	}
	s.addResources()
	s.addPrompts()
	return s, nil
}

// MCP returns the underlying SDK server (to run it over another transport).
func (s *Server) MCP() *mcp.Server { return s.mcp }

// HandlerConfig configures the HTTP handler.
type HandlerConfig struct {
	// MaxBodyBytes caps a request body.
	MaxBodyBytes int64
	// Authenticated says requests carry an authenticated principal in their
	// context (keys are configured); otherwise every caller is the service's
	// anonymous one (dev mode).
	Authenticated bool
}

// Handler serves the streamable HTTP transport, stateless: every request
// stands alone (the newest protocol revision needs no session), so any
// process behind a load balancer can answer it. The caller's principal,
// set on the request by the gateway's key middleware, is handed to the
// tools through the SDK's bearer-token hook.
func (s *Server) Handler(cfg HandlerConfig) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		Stateless:                    true,
		Logger:                       s.logger,
		MaxRequestBodyBytes:          cfg.MaxBodyBytes,
		PropagateRequestCancellation: true,
	})
	if !cfg.Authenticated {
		return h
	}
	return auth.RequireBearerToken(verifyPrincipal, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
}

// verifyPrincipal hands the principal the key middleware authenticated to
// the tools. The key was checked already; a request without a principal
// never got here.
func verifyPrincipal(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	p, ok := gateway.PrincipalFrom(r.Context())
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{UserID: p.Name, Expiration: time.Time{}, Extra: map[string]any{
		principalExtra: p, requestDoneExtra: r.Context().Done(),
	}}, nil
}

// requestContext is ctx carrying the request's principal (when keys are in
// use) and the channel its audit entries name, and ending with the request
// (a client that went away, a revoked key, shutdown); stop releases it.
func requestContext(ctx context.Context, extra *mcp.RequestExtra) (_ context.Context, stop func()) {
	ctx = gateway.WithVia(ctx, gateway.ViaMCP)
	if extra == nil || extra.TokenInfo == nil {
		return ctx, func() {}
	}
	if p, ok := extra.TokenInfo.Extra[principalExtra].(gateway.Principal); ok {
		ctx = gateway.WithPrincipal(ctx, p)
	}
	done, ok := extra.TokenInfo.Extra[requestDoneExtra].(<-chan struct{})
	if !ok {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// privateReads marks what resources/read answers as private to the caller's
// client: a session's refs graph depends on the key that read it, so no
// shared cache may serve it to another (the protocol's default is public).
func privateReads(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
	if _, ok := req.(*mcp.ReadResourceRequest); ok {
		c.CacheScope = "private"
	}
}

// instructions tell a model what the server is for; how to phrase a recall
// query follows, from the configured backends.
const instructions = `Memory Gateway keeps long-term memory for agents. Call "remember" with each
turn of the conversation as it happens, "recall" before answering when earlier
context could help, and "commit_session" when a conversation ends so the memory
backends distil it into lasting memories. "give_feedback" tells the gateway a
recalled memory was helpful, wrong (with a correction) or should be deleted.
"list_memories" and "get_memory" show what is remembered about the user, and
"forget_memory" deletes one memory when the user asks. Workspace, user and
agent come from your API key; pass them only when the key is not bound to them.`
