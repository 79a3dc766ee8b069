package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	// URL is the gateway's MCP endpoint (http://host:port/mcp).
	URL string
	// Key is the API key sent as a bearer token; empty for a gateway in dev
	// mode.
	Key string
	// HTTPClient, when set, makes the requests (tests).
	HTTPClient *http.Client
	// Env is where the proxy logs.
	Env     lifecycle.Env
	Version string
}

// Proxy is an MCP server that serves a running gateway's tools, resources and
// prompts over another transport (stdio, for agents that only launch local
// commands). Every call is forwarded as is, so the gateway applies its keys,
// grants and audit; progress notifications come back to the local client.
//
// Nothing a client sends ends it: progress tokens of any JSON type, unknown
// notifications and cancellations are handled by the SDK or forwarded; a
// gateway that cannot be reached fails the call with a coded tool error
// (UNAVAILABLE) and the next call connects again.
type Proxy struct {
	server  *mcp.Server
	connect func(ctx context.Context) (*mcp.ClientSession, error)
	logger  *slog.Logger

	mu      sync.Mutex
	session *mcp.ClientSession // nil after a failure, until the next call
	// provisional: the gateway could not be reached at start, so the proxy
	// serves this binary's own definitions until the first connection
	// replaces them with the gateway's.
	provisional bool
	mirrored    mirrored
	// progress maps forwarded progress tokens (by their JSON) to the local
	// session that asked for them. A notification may be handled after its
	// call has returned, so tokens are kept (the newest progressTokensKept).
	progress       map[string]*progressRoute
	progressTokens []string
}

// progressRoute is where a progress token's notifications go. mu orders
// the notifications handed on: each once, in the order of their progress.
type progressRoute struct {
	local *mcp.ServerSession
	mu    sync.Mutex
	upTo  float64 // the progress of the last notification handed on
}

// progressTokensKept bounds the progress tokens a proxy remembers.
const progressTokensKept = 1024

// NewProxy connects to the gateway and mirrors what it offers.
func NewProxy(ctx context.Context, cfg ProxyConfig) (*Proxy, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("mcpserver: the gateway's MCP URL is required")
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	if cfg.Key != "" {
		target, err := url.Parse(cfg.URL)
		if err != nil || target.Host == "" {
			return nil, fmt.Errorf("mcpserver: the gateway's MCP URL %q is not an absolute URL", cfg.URL)
		}
		c := *httpClient
		c.Transport = bearerTransport{key: cfg.Key, scheme: target.Scheme, host: target.Host, next: httpClient.Transport}
		// A redirect would carry the key to wherever it points.
		c.CheckRedirect = func(*http.Request, []*http.Request) error {
			return errors.New("the gateway answered with a redirect: not followed, so the key goes nowhere else")
		}
		httpClient = &c
	}
	p := &Proxy{logger: cfg.Env.Logger()}
	client := mcp.NewClient(&mcp.Implementation{Name: Name + "-stdio", Version: cfg.Version}, &mcp.ClientOptions{
		Logger:                      p.logger,
		ProgressNotificationHandler: p.forwardProgress,
	})
	p.connect = func(ctx context.Context) (*mcp.ClientSession, error) {
		session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: cfg.URL, HTTPClient: httpClient}, nil)
		if err != nil {
			return nil, fmt.Errorf("error connecting to the gateway at %s: %w", cfg.URL, err)
		}
		return session, nil
	}
	// A desktop client starts the proxy when it starts, often before the
	// gateway: the proxy must not die then, or the client gives up on it.
	source, err := p.connect(ctx)
	if err == nil {
		p.session = source
	} else {
		p.logger.Warn("mcp-stdio: the gateway cannot be reached; serving this version's tools until it can", slog.String("err", err.Error()))
		if source, err = ownDefinitions(ctx, cfg.Version); err != nil {
			return nil, err
		}
		defer source.Close()
		p.provisional = true
	}
	opts := &mcp.ServerOptions{Logger: p.logger}
	if init := source.InitializeResult(); init != nil {
		opts.Instructions = init.Instructions
	}
	p.server = mcp.NewServer(&mcp.Implementation{Name: Name, Title: "Memory Gateway", Version: cfg.Version}, opts)
	if p.mirrored, err = p.mirror(ctx, source); err != nil {
		_ = source.Close()
		return nil, err
	}
	return p, nil
}

// ownDefinitions is a session with this binary's own MCP server, which has
// no service behind it: its tools, templates and prompts are listed, never
// called.
func ownDefinitions(ctx context.Context, version string) (*mcp.ClientSession, error) {
	own, err := build(Options{Version: version})
	if err != nil {
		return nil, err
	}
	clientEnd, serverEnd := mcp.NewInMemoryTransports()
	if _, err := own.mcp.Connect(ctx, serverEnd, nil); err != nil {
		return nil, fmt.Errorf("mcpserver: error reading the tools of this version: %w", err)
	}
	session, err := mcp.NewClient(&mcp.Implementation{Name: Name + "-stdio", Version: version}, nil).Connect(ctx, clientEnd, nil)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: error reading the tools of this version: %w", err)
	}
	return session, nil
}

// mirrored names what the proxy serves on another server's behalf.
type mirrored struct {
	tools, templates, prompts []string
}

// Server is the local MCP server; run it over any transport.
func (p *Proxy) Server() *mcp.Server { return p.server }

// Close ends the connection to the gateway.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.session == nil {
		return nil
	}
	err := p.session.Close()
	p.session = nil
	return err
}

// mirror serves what session's server offers, forwarding every call.
func (p *Proxy) mirror(ctx context.Context, session *mcp.ClientSession) (mirrored, error) {
	var m mirrored
	for tool, err := range session.Tools(ctx, nil) {
		if err != nil {
			return m, fmt.Errorf("error listing the gateway's tools: %w", err)
		}
		p.server.AddTool(tool, p.callTool)
		m.tools = append(m.tools, tool.Name)
	}
	for tmpl, err := range session.ResourceTemplates(ctx, nil) {
		if err != nil {
			return m, fmt.Errorf("error listing the gateway's resource templates: %w", err)
		}
		p.server.AddResourceTemplate(tmpl, p.readResource)
		m.templates = append(m.templates, tmpl.URITemplate)
	}
	for prompt, err := range session.Prompts(ctx, nil) {
		if err != nil {
			return m, fmt.Errorf("error listing the gateway's prompts: %w", err)
		}
		p.server.AddPrompt(prompt, p.getPrompt)
		m.prompts = append(m.prompts, prompt.Name)
	}
	return m, nil
}

// adopt replaces the provisional definitions with the gateway's own (its
// backends' enums, its descriptions); the SDK tells connected clients
// their lists changed.
func (p *Proxy) adopt(ctx context.Context, session *mcp.ClientSession) error {
	p.server.RemoveTools(p.mirrored.tools...)
	p.server.RemoveResourceTemplates(p.mirrored.templates...)
	p.server.RemovePrompts(p.mirrored.prompts...)
	m, err := p.mirror(ctx, session)
	p.mirrored = m
	return err
}

// connected is the session to the gateway, connecting again after a
// failure.
func (p *Proxy) connected(ctx context.Context) (*mcp.ClientSession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.session != nil {
		return p.session, nil
	}
	session, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	if p.provisional {
		if err := p.adopt(ctx, session); err != nil {
			_ = session.Close()
			return nil, err
		}
		p.provisional = false
		p.logger.Info("mcp-stdio: connected to the gateway; serving its tools")
	}
	p.session = session
	return session, nil
}

// codeRejected is the JSON-RPC code the SDK wraps a request the transport
// could not deliver in (a refused connection, a gateway that went away).
const codeRejected = -32005

// failed drops a session whose call failed for another reason than the
// gateway's answer (a JSON-RPC error is an answer, but for codeRejected):
// the next call connects again.
func (p *Proxy) failed(session *mcp.ClientSession, err error) bool {
	var answer *jsonrpc.Error
	if (errors.As(err, &answer) && answer.Code != codeRejected) || errors.Is(err, context.Canceled) {
		return false
	}
	p.mu.Lock()
	if p.session == session {
		p.session = nil
	}
	p.mu.Unlock()
	_ = session.Close()
	p.logger.Warn("mcp-stdio: the gateway cannot be reached; the next call connects again", slog.String("err", err.Error()))
	return true
}

// unavailable is the tool error of a call the gateway could not take.
func unavailable(err error) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
		Text: "UNAVAILABLE: the memory gateway cannot be reached; try again shortly (" + err.Error() + ")",
	}}}
}

func (p *Proxy) callTool(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	// The request's _meta goes as it came: a progress token may be any JSON
	// value the client chose (the TypeScript SDK sends its numeric request
	// id), which the SDK's SetProgressToken would refuse.
	params := &mcp.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments, Meta: maps.Clone(req.Params.Meta)}
	if token := req.Params.GetProgressToken(); token != nil {
		p.rememberToken(token, req.Session)
	}
	session, err := p.connected(ctx)
	if err != nil {
		return unavailable(err), nil
	}
	res, err := session.CallTool(ctx, params)
	if err != nil && p.failed(session, err) {
		return unavailable(err), nil
	}
	if token := req.Params.GetProgressToken(); token != nil && res != nil {
		// The client library hands notifications to their handler behind
		// the responses it reads, so the result can come first. The result
		// lists the progress the gateway sent before it: what has not been
		// handed on yet goes now, before the answer, as it would from the
		// gateway, and the late originals are dropped.
		p.catchUpProgress(ctx, token, progressSentOf(res.Meta))
		p.awaitProgressRead(ctx, token, req.Session)
	}
	return res, err
}

// progressReadTimeout bounds how long a call's answer waits for its client
// to answer the ping that follows its progress notifications.
const progressReadTimeout = time.Second

// awaitProgressRead holds a call's answer until its client has read the
// progress notifications handed on before it: it pings the client and
// waits for the answer (a client answers messages in the order it reads
// them). The TypeScript SDK handles a notification a moment after it reads
// it but its call's answer at once, dropping the call's progress handler:
// a notification read together with the answer, as one read of the pipe,
// was dropped ("unknown token") — the case whenever the gateway's answer
// came before its notifications and the proxy handed them on just before
// the answer. A client that does not answer within progressReadTimeout
// gets the answer anyway.
func (p *Proxy) awaitProgressRead(ctx context.Context, token any, local *mcp.ServerSession) {
	if local == nil {
		return
	}
	route := p.routeOf(token)
	if route == nil {
		return
	}
	route.mu.Lock()
	handedOn := route.upTo > 0
	route.mu.Unlock()
	if !handedOn {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, progressReadTimeout)
	defer cancel()
	if err := local.Ping(ctx, nil); err != nil {
		p.logger.Debug("mcp-stdio: the client did not answer the ping after a call's progress", slog.String("err", err.Error()))
	}
}

// catchUpProgress hands on, in order, the notifications of sent that the
// local client has not had yet.
func (p *Proxy) catchUpProgress(ctx context.Context, token any, sent []mcp.ProgressNotificationParams) {
	if len(sent) == 0 {
		return
	}
	route := p.routeOf(token)
	if route == nil {
		return
	}
	route.mu.Lock()
	defer route.mu.Unlock()
	for i := range sent {
		if sent[i].Progress <= route.upTo {
			continue
		}
		sent[i].ProgressToken = token
		if err := route.local.NotifyProgress(ctx, &sent[i]); err != nil {
			p.logger.Debug("mcp-stdio: a progress notification was not handed on", slog.String("err", err.Error()))
		}
		route.upTo = sent[i].Progress
	}
}

func (p *Proxy) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	session, err := p.connected(ctx)
	if err != nil {
		return nil, err
	}
	res, err := session.ReadResource(ctx, &mcp.ReadResourceParams{URI: req.Params.URI})
	if err != nil {
		p.failed(session, err)
	}
	return res, err
}

func (p *Proxy) getPrompt(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	session, err := p.connected(ctx)
	if err != nil {
		return nil, err
	}
	res, err := session.GetPrompt(ctx, &mcp.GetPromptParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
	if err != nil {
		p.failed(session, err)
	}
	return res, err
}

// routeOf is where token's notifications go, or nil.
func (p *Proxy) routeOf(token any) *progressRoute {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.progress[tokenKey(token)]
}

// tokenKey is a progress token's identity: its JSON (3 and "3" differ).
func tokenKey(token any) string {
	raw, _ := json.Marshal(token)
	return string(raw)
}

// forwardProgress hands the gateway's progress on to the local client that
// asked for it.
func (p *Proxy) forwardProgress(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
	route := p.routeOf(req.Params.ProgressToken)
	if route == nil {
		return
	}
	route.mu.Lock()
	defer route.mu.Unlock()
	if req.Params.Progress <= route.upTo {
		return // handed on already, before its call's answer
	}
	if err := route.local.NotifyProgress(ctx, req.Params); err != nil {
		p.logger.Debug("mcp-stdio: a progress notification was not handed on", slog.String("err", err.Error()))
	}
	route.upTo = req.Params.Progress
}

func (p *Proxy) rememberToken(token any, local *mcp.ServerSession) {
	key := tokenKey(token)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.progress == nil {
		p.progress = make(map[string]*progressRoute)
	}
	if _, ok := p.progress[key]; !ok {
		p.progressTokens = append(p.progressTokens, key)
	}
	p.progress[key] = &progressRoute{local: local}
	if len(p.progressTokens) > progressTokensKept {
		delete(p.progress, p.progressTokens[0])
		p.progressTokens = p.progressTokens[1:]
	}
}

// bearerTransport adds the API key to the requests for the gateway, and to
// no other.
type bearerTransport struct {
	key, scheme, host string
	next              http.RoundTripper
}

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.URL.Scheme == t.scheme && r.URL.Host == t.host {
		r.Header.Set("Authorization", "Bearer "+t.key)
	}
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}
