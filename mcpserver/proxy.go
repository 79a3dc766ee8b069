package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
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
	Logger     *slog.Logger
	Version    string
}

// Proxy is an MCP server that serves a running gateway's tools, resources and
// prompts over another transport (stdio, for agents that only launch local
// commands). Every call is forwarded as is, so the gateway applies its keys,
// grants and audit; progress notifications come back to the local client.
type Proxy struct {
	server  *mcp.Server
	session *mcp.ClientSession
	// progress maps forwarded progress tokens to the local session that
	// asked for them. A notification may be handled after its call has
	// returned, so tokens are kept (the newest progressTokensKept).
	mu             sync.Mutex
	progress       map[any]*mcp.ServerSession
	progressTokens []any
}

// progressTokensKept bounds the progress tokens a proxy remembers.
const progressTokensKept = 1024

// NewProxy connects to the gateway and mirrors what it offers.
func NewProxy(ctx context.Context, cfg ProxyConfig) (*Proxy, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("mcpserver: the gateway's MCP URL is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
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
	p := &Proxy{}
	client := mcp.NewClient(&mcp.Implementation{Name: Name + "-stdio", Version: cfg.Version}, &mcp.ClientOptions{
		Logger:                      cfg.Logger,
		ProgressNotificationHandler: p.forwardProgress,
	})
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: cfg.URL, HTTPClient: httpClient}, nil)
	if err != nil {
		return nil, fmt.Errorf("error connecting to the gateway at %s: %w", cfg.URL, err)
	}
	p.session = session
	init := session.InitializeResult()
	opts := &mcp.ServerOptions{Logger: cfg.Logger}
	if init != nil {
		opts.Instructions = init.Instructions
	}
	p.server = mcp.NewServer(&mcp.Implementation{Name: Name, Title: "Memory Gateway", Version: cfg.Version}, opts)
	if err := p.mirror(ctx); err != nil {
		_ = session.Close()
		return nil, err
	}
	return p, nil
}

// Server is the local MCP server; run it over any transport.
func (p *Proxy) Server() *mcp.Server { return p.server }

// Close ends the connection to the gateway.
func (p *Proxy) Close() error { return p.session.Close() }

func (p *Proxy) mirror(ctx context.Context) error {
	for tool, err := range p.session.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("error listing the gateway's tools: %w", err)
		}
		p.server.AddTool(tool, p.callTool)
	}
	for tmpl, err := range p.session.ResourceTemplates(ctx, nil) {
		if err != nil {
			return fmt.Errorf("error listing the gateway's resource templates: %w", err)
		}
		p.server.AddResourceTemplate(tmpl, p.readResource)
	}
	for prompt, err := range p.session.Prompts(ctx, nil) {
		if err != nil {
			return fmt.Errorf("error listing the gateway's prompts: %w", err)
		}
		p.server.AddPrompt(prompt, p.getPrompt)
	}
	return nil
}

func (p *Proxy) callTool(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	params := &mcp.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments}
	if token := req.Params.GetProgressToken(); token != nil {
		params.SetProgressToken(token)
		p.rememberToken(token, req.Session)
	}
	return p.session.CallTool(ctx, params)
}

func (p *Proxy) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	return p.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: req.Params.URI})
}

func (p *Proxy) getPrompt(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	return p.session.GetPrompt(ctx, &mcp.GetPromptParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
}

// forwardProgress hands the gateway's progress on to the local client that
// asked for it.
func (p *Proxy) forwardProgress(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
	p.mu.Lock()
	local := p.progress[req.Params.ProgressToken]
	p.mu.Unlock()
	if local != nil {
		_ = local.NotifyProgress(ctx, req.Params)
	}
}

func (p *Proxy) rememberToken(token any, local *mcp.ServerSession) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.progress == nil {
		p.progress = make(map[any]*mcp.ServerSession)
	}
	if _, ok := p.progress[token]; !ok {
		p.progressTokens = append(p.progressTokens, token)
	}
	p.progress[token] = local
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
