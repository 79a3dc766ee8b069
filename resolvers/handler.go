package resolvers

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/statements"
)

// Handler defaults.
const (
	ComplexityLimitDefault = 20_000
	QueryCacheSizeDefault  = 1_000
	APQCacheSizeDefault    = 1_000
	KeepAliveDefault       = 10 * time.Second
	websocketInitTimeout   = 10 * time.Second
)

// HandlerConfig configures the GraphQL handler. Zero values take defaults.
type HandlerConfig struct {
	// Introspection enables schema introspection (dev mode).
	Introspection bool
	// ComplexityLimit rejects operations whose computed cost is higher;
	// connection fields cost `first` times their selection.
	ComplexityLimit int
	// LoaderWait is the dataloader batching window.
	LoaderWait time.Duration
	// KeepAlive is the ping interval of websocket and SSE subscriptions.
	KeepAlive time.Duration
	// WebsocketInit authenticates a websocket from its connection_init
	// payload; nil accepts every connection.
	WebsocketInit func(ctx context.Context, payload map[string]any) (context.Context, error)
	// WebsocketOrigins are host patterns (besides the server's own host) a
	// browser websocket may come from.
	WebsocketOrigins []string
	// WebsocketInitTimeout is how long a websocket may stay without
	// connection_init.
	WebsocketInitTimeout time.Duration
	// MaxSubscriptionsPerConnection caps one websocket's live operations,
	// whatever its subprotocol.
	MaxSubscriptionsPerConnection int
	// MaxMessageBytes bounds one websocket message, like the body limit
	// bounds an HTTP request.
	MaxMessageBytes int64
	// MaxDepth and MaxAliases bound an operation's shape.
	MaxDepth   int
	MaxAliases int
	// TokenLimit bounds the tokens of a query document.
	TokenLimit int
	// Extensions are added to the server (telemetry).
	Extensions []graphql.HandlerExtension
	// TrustedDocuments, when set, is the allowlist restricted keys run.
	TrustedDocuments *TrustedDocuments
}

// NewHandler builds the GraphQL server: transports, query and persisted
// query caches, complexity limit, coded errors, panic recovery and
// per-operation dataloaders.
func NewHandler(res *Resolver, cfg HandlerConfig) *handler.Server {
	if cfg.ComplexityLimit <= 0 {
		cfg.ComplexityLimit = ComplexityLimitDefault
	}
	if cfg.LoaderWait <= 0 {
		cfg.LoaderWait = LoaderWaitDefault
	}
	logger := res.Env.Logger()
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = KeepAliveDefault
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = MaxDepthDefault
	}
	if cfg.MaxAliases <= 0 {
		cfg.MaxAliases = MaxAliasesDefault
	}
	if cfg.TokenLimit <= 0 {
		cfg.TokenLimit = TokenLimitDefault
	}
	schema := newExecutableSchema(res)
	srv := handler.New(schema)
	if cfg.WebsocketInitTimeout <= 0 {
		cfg.WebsocketInitTimeout = websocketInitTimeout
	}
	if cfg.MaxSubscriptionsPerConnection <= 0 {
		cfg.MaxSubscriptionsPerConnection = MaxSubscriptionsPerConnectionDefault
	}
	// Streaming transports first: the first transport that supports a
	// request serves it. graphql-transport-ws is served as specified (close
	// codes, caps); the legacy graphql-ws subprotocol by gqlgen's transport,
	// held to the same per-connection cap by connectionCap.
	srv.AddTransport(graphqlTransportWS{
		acceptOptions: websocket.AcceptOptions{OriginPatterns: cfg.WebsocketOrigins},
		initTimeout:   cfg.WebsocketInitTimeout,
		keepAlive:     cfg.KeepAlive,
		init:          cfg.WebsocketInit,
		perConnection: cfg.MaxSubscriptionsPerConnection,
		readLimit:     cfg.MaxMessageBytes,
		shared:        sharedStreamsOf(res),
	})
	// The legacy subprotocol is held to the same settings: its init
	// timeout, its message bound (gqlgen's own default is 1 MB whatever
	// MAX_BODY_BYTES says) and, through connectionCap, its operations.
	var legacyReadLimit *int64
	if cfg.MaxMessageBytes > 0 {
		legacyReadLimit = &cfg.MaxMessageBytes
	}
	srv.AddTransport(transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: cfg.WebsocketOrigins},
		},
		KeepAlivePingInterval: cfg.KeepAlive,
		InitTimeout:           cfg.WebsocketInitTimeout,
		PayloadReadLimit:      legacyReadLimit,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if cfg.WebsocketInit != nil {
				authed, err := cfg.WebsocketInit(ctx, payload)
				if err != nil {
					return authed, nil, err
				}
				ctx = authed
			}
			return withConnectionSlots(ctx, cfg.MaxSubscriptionsPerConnection), nil, nil
		},
	})
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: cfg.KeepAlive})
	srv.AddTransport(transport.Options{})
	// application/json unless the client asks for
	// application/graphql-response+json (GraphQL over HTTP's SHOULD).
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})

	// First: an operation over its connection's cap runs nothing.
	srv.Use(connectionCap{})
	// Parsing and validating is half the cost of a small query: cache it.
	srv.SetQueryCache(lru.New[*ast.QueryDocument](QueryCacheSizeDefault))
	if cfg.TrustedDocuments != nil {
		// Before automatic persisted queries: they must not see what a
		// restricted key may not run.
		srv.Use(trustedDocumentsGate{docs: cfg.TrustedDocuments})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: principalCache{inner: lru.New[string](APQCacheSizeDefault)}})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		// No "did you mean …": field names stay as private as the schema.
		srv.SetDisableSuggestion(true)
	}
	srv.SetParserTokenLimit(cfg.TokenLimit)
	srv.Use(shapeLimit{maxDepth: cfg.MaxDepth, maxAliases: cfg.MaxAliases})
	srv.Use(strictEnums{schema: schema.Schema()})
	srv.Use(introspectionGuard{})
	srv.Use(extension.FixedComplexityLimit(cfg.ComplexityLimit))
	srv.Use(newLookAhead(schema.Schema()))
	for _, ext := range cfg.Extensions {
		srv.Use(ext)
	}
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.SetRecoverFunc(RecoverFunc(logger))
	// Fresh loaders for every response: one per query or mutation, and one
	// per event of a subscription, so no event is served from a stale cache.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		ctx, counted := statements.WithCounter(ctx)
		resp := next(withLoaders(ctx, func() *loaders { return newLoaders(res.Service, res.Service.Reader(ctx), cfg.LoaderWait) }))
		if resp != nil && graphql.HasOperationContext(ctx) &&
			graphql.GetOperationContext(ctx).Headers.Get(StatementsHeader) == "count" && mayCountStatements(ctx, res.Service) {
			if resp.Extensions == nil {
				resp.Extensions = map[string]any{}
			}
			resp.Extensions["statements"] = counted.Load()
		}
		return resp
	})
	return srv
}

// StatementsHeader, set to "count", asks for the number of SQL statements
// the response cost, in extensions.statements (dashboards' developers and
// the bench read it). A count measures data the caller may not read (how
// much a refused write found), so only a key that sees everything of its
// workspace gets one; others' header is ignored.
const StatementsHeader = "Memory-Gateway-Statements"

// mayCountStatements: the caller sees all of its workspace (or is the
// operator, or dev mode's anonymous caller).
func mayCountStatements(ctx context.Context, svc *gateway.Service) bool {
	p, err := svc.Caller(ctx)
	return err == nil && p.SeesAllOfItsWorkspace()
}

// principalCache keys a cache shared by every caller by the caller: a
// persisted query one key registered is found by no other. A bare hash that
// ran another key's document would confirm that someone sent that exact
// document, literals included, and run it; the literals are not the only
// tell (the shape, ids in aliases, operation names), so no document is
// shared. Documents meant for many keys are the trusted documents, which
// every key may name by hash.
type principalCache struct {
	inner graphql.Cache[string]
}

func (c principalCache) key(ctx context.Context, key string) string {
	p, _ := gateway.PrincipalFrom(ctx)
	// Every part length-prefixed: the caller chooses the hash, and must not
	// be able to spell another principal's entry with it. Key names are
	// unique, but a reloaded file may give a name to another workspace,
	// user or agent: those are part of the identity too.
	var b strings.Builder
	for _, part := range []string{p.Name, p.WorkspaceID, p.UserID, p.AgentID} {
		b.WriteString(strconv.Itoa(len(part)))
		b.WriteByte(':')
		b.WriteString(part)
	}
	b.WriteByte('|')
	b.WriteString(key)
	return b.String()
}

// Get implements graphql.Cache.
func (c principalCache) Get(ctx context.Context, key string) (string, bool) {
	return c.inner.Get(ctx, c.key(ctx, key))
}

// Add implements graphql.Cache.
func (c principalCache) Add(ctx context.Context, key, value string) {
	c.inner.Add(ctx, c.key(ctx, key), value)
}

// sharedStreamsOf shares change streams among subscribers when the
// resolver has a service.
func sharedStreamsOf(res *Resolver) *sharedStreams {
	if res == nil || res.Service == nil {
		return nil
	}
	return newSharedStreams(res.Service)
}
