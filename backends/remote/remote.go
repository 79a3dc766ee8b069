// Package remote is the HTTP plumbing shared by the adapters of remote
// memory backends: JSON requests with contexts and timeouts, classification
// of failures into retryable and permanent ones, a circuit breaker per
// backend, and health probes. What a backend's envelope looks like is the
// adapter's business; this package only moves bytes and judges outcomes.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Defaults for Config.
const (
	BreakerFailuresDefault = 5
	BreakerOpenDefault     = 30 * time.Second
	TimeoutDefault         = 10 * time.Second
	maxResponseBytes       = 8 << 20
	maxErrorTextLength     = 200
)

// Error codes of failures that happen before a backend answers.
const (
	CodeCircuitOpen = "circuit_open"
	CodeTimeout     = "timeout"
	CodeUnavailable = "unreachable"
	CodeBadResponse = "bad_response"
)

// Error is a failed call to a backend. Message never contains request
// content: it is the backend's error text at most, truncated.
type Error struct {
	Backend   backendtype.Backend
	Status    int
	Code      string
	Message   string
	Retryable bool
	// DownUntil, when set, says the backend's circuit is open until then:
	// the call was not sent, or its failure is what opened the circuit.
	DownUntil time.Time
}

// BackendDownUntil implements gateway's outage signal: work for this
// backend waits until then without spending an attempt.
func (e *Error) BackendDownUntil() time.Time { return e.DownUntil }

// Timeout reports whether the backend did not answer in time, whichever
// timer (the caller's context or the HTTP client's) fired first.
func (e *Error) Timeout() bool { return e.Code == CodeTimeout }

// Error does not name the backend: the gateway records every error
// against its backend (a ref's, an event's, a job's "backend: error"), and a
// name here made it twice ("evermemos: evermemos: HTTP 503").
func (e *Error) Error() string {
	var parts []string
	if e.Status > 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", e.Status))
	}
	if e.Code != "" {
		parts = append(parts, e.Code)
	}
	head := strings.Join(parts, " ")
	switch {
	case e.Message == "":
		return head
	case head == "":
		return e.Message
	}
	return head + ": " + e.Message
}

// AsError returns err as an *Error, wrapping anything else as a retryable
// failure.
func AsError(backend backendtype.Backend, err error) *Error {
	if err == nil {
		return nil
	}
	var re *Error
	if errors.As(err, &re) {
		return re
	}
	return &Error{Backend: backend, Code: "adapter_error", Message: truncate(err.Error()), Retryable: true}
}

// Retryable reports whether an HTTP status is worth trying again: timeouts,
// throttling and server errors are; other client errors are permanent.
func Retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// ErrorParser reads a backend's error envelope from an error response body;
// every field may be empty.
type ErrorParser func(status int, body []byte) ParsedError

// ParsedError is what a backend's error envelope says.
type ParsedError struct {
	Code    string
	Message string
	// Retryable is the backend saying that trying again may help, whatever
	// the status (OpenViking's 409 CONFLICT with details.retryable: a path
	// lock was busy).
	Retryable bool
	// Permanent is the backend saying that trying again cannot help,
	// whatever the status (EverOS's 503 CAPABILITY_UNAVAILABLE: a feature
	// the server was not set up with).
	Permanent bool
}

// Config configures a Client.
type Config struct {
	Backend backendtype.Backend
	BaseURL string
	// Timeout bounds one HTTP exchange (the caller's context may be shorter).
	Timeout time.Duration
	// Headers are added to every request (authentication).
	Headers http.Header
	// ParseError reads the backend's error envelope.
	ParseError ErrorParser
	// BreakerFailures consecutive retryable failures open the breaker.
	BreakerFailures uint32
	// BreakerOpen is how long the breaker stays open before it probes the
	// backend's health endpoint.
	BreakerOpen time.Duration
	// HealthPath is the backend's health endpoint (GET): the breaker's
	// probe and what Health asks. Default /health.
	HealthPath string
	// HealthProblem judges a successful health answer: "" when healthy,
	// else what is wrong. Nil: any 2xx is healthy.
	HealthProblem func(body []byte) string
	// Now is the clock of the breaker; nil means time.Now.
	Now func() time.Time
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
}

// Client talks to one backend.
type Client struct {
	cfg     Config
	base    *url.URL
	http    *http.Client
	breaker *breaker
}

type response struct {
	status int
	body   []byte
}

// New builds a Client.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q must be an http(s) URL", cfg.Backend, cfg.BaseURL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = BreakerFailuresDefault
	}
	if cfg.BreakerOpen <= 0 {
		cfg.BreakerOpen = BreakerOpenDefault
	}
	transport := cfg.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		transport = t
	}
	// The otel transport passes the W3C trace context on to the backend and
	// adds a client span per request (both no-ops without tracing).
	transport = otelhttp.NewTransport(transport)
	if cfg.HealthPath == "" {
		cfg.HealthPath = "/health"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, base: base, http: &http.Client{Transport: transport, Timeout: cfg.Timeout}}
	c.breaker = &breaker{threshold: cfg.BreakerFailures, openFor: cfg.BreakerOpen, now: cfg.Now, probe: c.Health}
	return c, nil
}

// BreakerState is "closed", "open" or "half_open" (probing).
func (c *Client) BreakerState() string { return c.breaker.state() }

// Health asks the backend's health endpoint, outside the breaker: it is
// how the breaker probes, and what readiness reports.
func (c *Client) Health(ctx context.Context) error {
	res, err := c.do(ctx, Request{Method: http.MethodGet, Path: c.cfg.HealthPath})
	if err != nil {
		return err
	}
	if c.cfg.HealthProblem != nil {
		if problem := c.cfg.HealthProblem(res.body); problem != "" {
			return c.BadResponse(problem)
		}
	}
	return nil
}

// Request is one call.
type Request struct {
	Method string
	// Path is escaped already: an id in it went through url.PathEscape.
	Path    string
	Query   url.Values
	Headers http.Header
	Body    any
	// OmitErrorText drops the backend's error message from errors: for
	// requests that carried conversation content, which a backend may echo.
	OmitErrorText bool
}

// Do sends req and returns the status and body of a successful (2xx)
// answer; any failure is an *Error. While the breaker is open the request is
// not sent: the error is CodeCircuitOpen, with DownUntil set.
func (c *Client) Do(ctx context.Context, req Request) (int, []byte, error) {
	downUntil, err := c.breaker.admit(ctx)
	if err != nil {
		return 0, nil, err
	}
	if !downUntil.IsZero() {
		return 0, nil, &Error{Backend: c.cfg.Backend, Code: CodeCircuitOpen, Message: "circuit breaker open: the backend failed repeatedly and its health endpoint has not answered since",
			Retryable: true, DownUntil: downUntil}
	}
	res, err := c.do(ctx, req)
	if until := c.breaker.record(err); !until.IsZero() {
		var re *Error
		if errors.As(err, &re) {
			re.DownUntil = until
		}
	}
	if err != nil {
		return 0, nil, err
	}
	return res.status, res.body, nil
}

func (c *Client) do(ctx context.Context, req Request) (response, error) {
	u := *c.base
	// req.Path is already escaped (ids go through url.PathEscape): it is
	// the raw path, so an id is escaped once on the wire, never twice.
	escaped := u.EscapedPath() + req.Path
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return response{}, &Error{Backend: c.cfg.Backend, Code: "bad_request", Message: "path is not validly escaped"}
	}
	u.Path, u.RawPath = path, escaped
	if len(req.Query) > 0 {
		u.RawQuery = req.Query.Encode()
	}
	var body io.Reader
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return response{}, &Error{Backend: c.cfg.Backend, Code: "bad_request", Message: err.Error()}
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return response{}, &Error{Backend: c.cfg.Backend, Code: "bad_request", Message: err.Error()}
	}
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.cfg.Headers {
		hr.Header[k] = vs
	}
	for k, vs := range req.Headers {
		hr.Header[k] = vs
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return response{}, c.transportError(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return response{}, c.transportError(ctx, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return response{status: resp.StatusCode, body: raw}, nil
	}
	e := &Error{Backend: c.cfg.Backend, Status: resp.StatusCode, Retryable: Retryable(resp.StatusCode)}
	if c.cfg.ParseError != nil {
		parsed := c.cfg.ParseError(resp.StatusCode, raw)
		e.Code, e.Message = parsed.Code, parsed.Message
		e.Retryable = (e.Retryable || parsed.Retryable) && !parsed.Permanent
	}
	if e.Code == "" {
		e.Code = http.StatusText(resp.StatusCode)
	}
	if req.OmitErrorText {
		e.Message = ""
	}
	e.Message = truncate(e.Message)
	return response{}, e
}

func (c *Client) transportError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &Error{Backend: c.cfg.Backend, Code: CodeTimeout, Message: "no answer in time", Retryable: true}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{Backend: c.cfg.Backend, Code: CodeUnavailable, Message: "connection refused", Retryable: true}
	default:
		return &Error{Backend: c.cfg.Backend, Code: CodeUnavailable, Message: truncate(err.Error()), Retryable: true}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// JSON decodes a successful body into v, or reports a bad response.
func (c *Client) JSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{Backend: c.cfg.Backend, Code: CodeBadResponse, Message: "the answer is not the JSON expected", Retryable: true}
	}
	return nil
}

// BadResponse is a retryable error for answers that decode but make no sense.
func (c *Client) BadResponse(what string) *Error {
	return &Error{Backend: c.cfg.Backend, Code: CodeBadResponse, Message: what, Retryable: true}
}

func truncate(s string) string {
	if len(s) <= maxErrorTextLength {
		return s
	}
	cut := maxErrorTextLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// WriteFailure turns an error into a failed WriteResult with the error's
// code and retryability.
func WriteFailure(backend backendtype.Backend, err error) backendtype.WriteResult {
	e := AsError(backend, err)
	return backendtype.WriteResult{
		Status: backendtype.ResultFailed, Retryable: e.Retryable, ErrorCode: e.Code, ErrorMessage: e.Error(),
		Response: map[string]any{"status": "error", "error_code": e.Code, "retryable": e.Retryable},
	}
}

// CommitFailure turns an error into a failed CommitResult.
func CommitFailure(backend backendtype.Backend, err error) backendtype.CommitResult {
	e := AsError(backend, err)
	return backendtype.CommitResult{
		Status: backendtype.ResultFailed, Retryable: e.Retryable, ErrorCode: e.Code, ErrorMessage: e.Error(), DownUntil: e.DownUntil,
		Response: map[string]any{"status": "error", "error_code": e.Code, "retryable": e.Retryable},
	}
}
