package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/requestinfo"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// withVia marks the requests of an edge, for their audit entries.
func withVia(via gateway.Via, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(gateway.WithVia(r.Context(), via)))
	})
}

// limitBody caps request bodies; the GraphQL transports then fail to read an
// oversized body and answer with an error instead of buffering it.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", limit), apierror.CodeBadUserInput, "body")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// withRecover turns a panic outside the GraphQL executor into a logged 500.
func withRecover(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.ErrorContext(r.Context(), "http: panic",
					slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
				writeError(w, http.StatusInternalServerError, "internal error", apierror.CodeInternal, "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush implements http.Flusher (server-sent events need it).
func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker (websockets need it).
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s.status = http.StatusSwitchingProtocols
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer (flushing,
// hijacking, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withRequestLog gives every request an id (the caller's X-Request-Id when it
// is sane), starts collecting its facts (requestinfo) under that id and its
// trace's, and logs method, path, status, duration, the principal's name, the
// GraphQL operation and its outcome; never bodies, keys or content.
func withRequestLog(logger *slog.Logger, tel Telemetry, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		traceID := tel.TraceID(r.Context())
		ctx, info := requestinfo.Start(r.Context(), id, traceID)
		rec := &statusRecorder{ResponseWriter: w}
		started := time.Now()
		next.ServeHTTP(rec, r.WithContext(ctx))
		elapsed := time.Since(started)
		facts := info.Facts()
		if facts.Outcome == "" {
			facts.Outcome = httpOutcome(rec.status)
		}
		if r.URL.Path == GraphQLPath && !isStream(r) && !facts.Observed {
			tel.ObserveRejected(facts.Outcome, elapsed)
		}
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", elapsed),
		}
		if traceID != "" {
			attrs = append(attrs, slog.String("trace_id", traceID))
		}
		if facts.Principal != "" {
			attrs = append(attrs, slog.String("principal", facts.Principal))
		}
		if facts.OperationType != "" {
			attrs = append(attrs, slog.String("operation_type", facts.OperationType),
				slog.String("operation", facts.Field), slog.String("operation_name", facts.OperationName))
		}
		attrs = append(attrs, slog.String("outcome", facts.Outcome))
		logger.LogAttrs(ctx, slog.LevelInfo, "http: request", attrs...)
	})
}

// httpOutcome names the outcome of a request nothing else described: the
// error code clients see for the status.
func httpOutcome(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case status == http.StatusForbidden:
		return "FORBIDDEN"
	case status == http.StatusRequestEntityTooLarge, status >= 400 && status < 500:
		return "BAD_REQUEST"
	case status >= 500:
		return "INTERNAL"
	default:
		return requestinfo.OutcomeOK
	}
}

// operatorOnly lets only the operator key through (everyone in dev mode,
// which serves loopback only): what it guards is process-wide, so a
// workspace's admin key is not enough. Everyone else — no key, a key that
// matches nothing, any other key — gets the 404 of a path that does not
// exist, never a 401 or a WWW-Authenticate that would tell them something
// is there.
func operatorOnly(keyring *policy.Keyring, next http.Handler) http.Handler {
	return keyring.Gate(gateway.Principal.IsOperator, http.NotFoundHandler(), next)
}

// handleOperatorOnly mounts on mux the routes of routes (a mux of its own)
// that only the operator reaches, at the given paths. They are registered
// without a method, and the subtree roots without their slash as well, so
// that the outer mux answers nobody a 405 with an Allow header or a
// redirect to the subtree: those would tell a caller the route exists
// before the gate is reached. The operator gets routes' own answers.
func handleOperatorOnly(mux *http.ServeMux, keyring *policy.Keyring, routes http.Handler, paths ...string) {
	gated := operatorOnly(keyring, routes)
	for _, path := range paths {
		mux.Handle(path, gated)
	}
}

// pprofHandler serves the Go runtime profiles. The command line is not
// served: secrets passed as flags are on it.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pprofPath, pprof.Index)
	mux.HandleFunc(pprofPath+"cmdline", http.NotFound)
	mux.HandleFunc(pprofPath+"profile", pprof.Profile)
	mux.HandleFunc(pprofPath+"symbol", pprof.Symbol)
	mux.HandleFunc(pprofPath+"trace", pprof.Trace)
	return mux
}

// isStream reports whether a request opens a long-lived stream: a websocket
// upgrade or server-sent events.
func isStream(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
		strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// withStreams exempts streams from the server's read and write timeouts
// (which bound ordinary requests) and ends them when streams is cancelled,
// which shutdown does: a stream is never idle, so the server would otherwise
// wait for it.
func withStreams(streams context.Context, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(streams, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withCORS lets browsers on the allowed origins call the API; with none
// configured, only same-origin pages can.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", RequestIDHeader, "traceparent",
			"Mcp-Session-Id", "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name", "Last-Event-Id"},
		ExposedHeaders:   []string{RequestIDHeader, "Mcp-Session-Id"},
		AllowCredentials: false,
		MaxAge:           600,
	}).Handler(next)
}

// withHTTPConformance settles how a request error is answered, as GraphQL
// over HTTP says: under application/json, a document that does not parse or
// validate, or variables that do not coerce, are answered 200 (the errors
// say what failed); under application/graphql-response+json they keep
// their 4xx status and carry no "data" entry. Successful responses and
// streams pass through untouched; only a 4xx body is held to rewrite it.
func withHTTPConformance(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		cw := &conformingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		cw.finish()
	})
}

type conformingWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
	held   *bytes.Buffer
}

func (w *conformingWriter) WriteHeader(code int) {
	if !w.wrote && code >= 400 && code < 500 {
		w.wrote, w.status, w.held = true, code, &bytes.Buffer{}
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *conformingWriter) Write(b []byte) (int, error) {
	if w.held != nil {
		return w.held.Write(b)
	}
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *conformingWriter) finish() {
	if w.held == nil {
		return
	}
	body, status := w.held.Bytes(), w.status
	mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	switch mt {
	case "application/json":
		status = http.StatusOK
	case "application/graphql-response+json":
		var resp map[string]json.RawMessage
		if json.Unmarshal(body, &resp) == nil {
			if data, ok := resp["data"]; ok && string(data) == "null" {
				delete(resp, "data")
				if b, err := json.Marshal(resp); err == nil {
					body = b
				}
			}
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(status)
	_, _ = w.ResponseWriter.Write(body)
}

// loopbackHostsOnly refuses, in dev mode (no keys: every caller acts with
// full access), a request whose Host is not a loopback name or address. A
// page on another site can make a browser send requests to a loopback port
// under its own name once that name resolves to 127.0.0.1 (DNS rebinding);
// such requests carry the site's Host and are refused here.
func loopbackHostsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			writeError(w, http.StatusForbidden, "dev mode answers only requests to a loopback host (localhost, 127.0.0.1, [::1])", apierror.CodeForbidden, "")
			return
		}
		next.ServeHTTP(w, r)
	})
}
