// Package memorygateway is a typed Go client of Memory Gateway's GraphQL API.
//
// The operations (operations.graphql) are generated with genqlient against the
// gateway's schema; Client sends them with an API key, turns error extensions
// into *Error, retries retryable errors with backoff, and follows jobs over
// the gateway's server-sent events.
//
//	c, _ := memorygateway.New("http://127.0.0.1:8080", memorygateway.WithAPIKey(key))
//	_, err := c.IngestTurn(ctx, memorygateway.IngestConversationTurnInput{...})
//	job, err := c.CommitAndWait(ctx, memorygateway.CommitSessionInput{...})
package memorygateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Khan/genqlient/graphql"
)

// Retry defaults: a few attempts, soon enough for an agent's turn.
const (
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = 200 * time.Millisecond
	DefaultMaxDelay    = 10 * time.Second
)

// maxResponseBytes bounds what is read of one answer.
const maxResponseBytes = 64 << 20

// RetryPolicy says how retryable errors are retried. Only errors the gateway
// marks retryable (RATE_LIMITED, UNAVAILABLE, extensions.retryable) and
// failures to reach it are retried; every operation the client sends is
// idempotent on the gateway (turn ids, commit bases, feedback source events,
// erasure idempotency keys), so sending one again is safe.
type RetryPolicy struct {
	// MaxAttempts counts the first try; 1 disables retries.
	MaxAttempts int
	// BaseDelay is the first backoff; each next one doubles, with jitter.
	BaseDelay time.Duration
	// MaxDelay caps a backoff (not a wait the gateway asked for).
	MaxDelay time.Duration
}

// Client talks to one gateway. It is safe for concurrent use, and it is a
// genqlient graphql.Client, so the generated functions take it too.
type Client struct {
	endpoint   string
	httpClient *http.Client
	apiKey     string
	userAgent  string
	retry      RetryPolicy
}

var _ graphql.Client = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sends key as "Authorization: Bearer <key>". Without it the
// client sends no key, which a gateway in dev mode accepts.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithHTTPClient sends requests through hc. Leave its Timeout at zero (use
// contexts): a job's wait is one long streaming request.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.httpClient = hc } }

// WithRetry replaces the retry policy; zero fields keep their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) {
		if p.MaxAttempts > 0 {
			c.retry.MaxAttempts = p.MaxAttempts
		}
		if p.BaseDelay > 0 {
			c.retry.BaseDelay = p.BaseDelay
		}
		if p.MaxDelay > 0 {
			c.retry.MaxDelay = p.MaxDelay
		}
	}
}

// WithUserAgent sets the User-Agent header (the client's own by default).
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the gateway at baseURL ("http://127.0.0.1:8080";
// a URL ending in /graphql is taken as the endpoint itself).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("memory gateway: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("memory gateway: base URL %q: the scheme must be http or https", baseURL)
	}
	if !strings.HasSuffix(u.Path, "/graphql") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/graphql"
	}
	c := &Client{
		endpoint:   u.String(),
		httpClient: http.DefaultClient,
		userAgent:  "memory-gateway-go/" + Version,
		retry:      RetryPolicy{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay},
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// Endpoint is the GraphQL URL the client sends to.
func (c *Client) Endpoint() string { return c.endpoint }

// MakeRequest sends one operation, retrying retryable errors. It implements
// graphql.Client.
func (c *Client) MakeRequest(ctx context.Context, req *graphql.Request, resp *graphql.Response) error {
	body, err := encodeRequest(req)
	if err != nil {
		return err
	}
	return c.withRetries(ctx, func() error { return c.send(ctx, body, resp) })
}

// encodeRequest is req's JSON body with every null member of its variables
// left out: the gateway reads an absent input field as "not given", while a
// null ID would reach it as the string "null".
func encodeRequest(req *graphql.Request) ([]byte, error) {
	vars, err := json.Marshal(req.Variables)
	if err != nil {
		return nil, fmt.Errorf("memory gateway: encode %s: %w", req.OpName, err)
	}
	dec := json.NewDecoder(bytes.NewReader(vars))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("memory gateway: encode %s: %w", req.OpName, err)
	}
	body, err := json.Marshal(struct {
		Query         string `json:"query"`
		Variables     any    `json:"variables,omitempty"`
		OperationName string `json:"operationName,omitempty"`
	}{req.Query, withoutNulls(tree), req.OpName})
	if err != nil {
		return nil, fmt.Errorf("memory gateway: encode %s: %w", req.OpName, err)
	}
	return body, nil
}

// withoutNulls drops the null members of every object in v.
func withoutNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, member := range v {
			if member == nil {
				delete(v, k)
				continue
			}
			v[k] = withoutNulls(member)
		}
	case []any:
		for i := range v {
			v[i] = withoutNulls(v[i])
		}
	}
	return v
}

// withRetries runs try until it succeeds, fails for good, or the attempts or
// ctx run out.
func (c *Client) withRetries(ctx context.Context, try func() error) error {
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil || !IsRetryable(err) || attempt >= c.retry.MaxAttempts {
			return err
		}
		if ctxErr := sleep(ctx, c.backoff(attempt, retryAfter(err))); ctxErr != nil {
			return errors.Join(err, ctxErr)
		}
	}
}

// backoff is the wait before attempt+1: what the gateway asked for if it
// did, else an exponential backoff with full jitter.
func (c *Client) backoff(attempt int, asked time.Duration) time.Duration {
	if asked > 0 {
		return asked
	}
	ceiling := c.retry.BaseDelay << min(attempt-1, 20)
	if ceiling <= 0 || ceiling > c.retry.MaxDelay {
		ceiling = c.retry.MaxDelay
	}
	return ceiling/2 + rand.N(ceiling/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, body []byte, resp *graphql.Response) error {
	httpResp, err := c.post(ctx, body, "application/graphql-response+json, application/json")
	if err != nil {
		return err
	}
	defer httpResp.Body.Close()
	return decodeResponse(httpResp, resp)
}

// post sends body to the endpoint. A failure to get an answer is a
// retryable *Error (UNAVAILABLE) unless ctx ended.
func (c *Client) post(ctx context.Context, body []byte, accept string) (*http.Response, error) {
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("memory gateway: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", accept)
	httpReq.Header.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		httpReq.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	httpResp, err := c.httpClient.Do(httpReq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Code: CodeUnavailable, Message: "the gateway could not be reached", Retryable: true, cause: err}
	}
	return httpResp, nil
}

// decodeResponse reads a GraphQL answer into resp; its errors become *Error.
func decodeResponse(httpResp *http.Response, resp *graphql.Response) error {
	raw, err := io.ReadAll(io.LimitReader(httpResp.Body, maxResponseBytes))
	if err != nil {
		return &Error{Code: CodeUnavailable, Message: "the answer was cut short", Retryable: true, HTTPStatus: httpResp.StatusCode, cause: err}
	}
	var wire struct {
		Data       json.RawMessage `json:"data"`
		Errors     []wireError     `json:"errors"`
		Extensions map[string]any  `json:"extensions"`
	}
	mediaType, _, _ := mime.ParseMediaType(httpResp.Header.Get("Content-Type"))
	if !strings.HasSuffix(mediaType, "json") || json.Unmarshal(raw, &wire) != nil {
		return httpError(httpResp)
	}
	if resp != nil {
		resp.Extensions = wire.Extensions
		if len(wire.Data) > 0 && string(wire.Data) != "null" && resp.Data != nil {
			if err := json.Unmarshal(wire.Data, resp.Data); err != nil {
				return fmt.Errorf("memory gateway: decode the answer's data: %w", err)
			}
		}
	}
	if len(wire.Errors) > 0 {
		return errorsOf(wire.Errors, httpResp.StatusCode)
	}
	if len(wire.Data) == 0 || string(wire.Data) == "null" {
		return httpError(httpResp)
	}
	return nil
}

// httpError is an answer that is not GraphQL (a proxy's, a load balancer's):
// 429 and 502–504 are retryable, with the Retry-After they give.
func httpError(httpResp *http.Response) *Error {
	e := &Error{Code: CodeInternal, Message: "unexpected answer: HTTP " + httpResp.Status, HTTPStatus: httpResp.StatusCode}
	switch httpResp.StatusCode {
	case http.StatusTooManyRequests:
		e.Code, e.Retryable = CodeRateLimited, true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.Code, e.Retryable = CodeUnavailable, true
	case http.StatusUnauthorized:
		e.Code = CodeUnauthenticated
	case http.StatusForbidden:
		e.Code = CodeForbidden
	}
	if secs, err := strconv.Atoi(httpResp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfterMs = int64(secs) * 1000
	}
	return e
}
