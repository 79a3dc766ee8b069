package mcpserver

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// toolFunc runs a tool: its structured result, the same for a model to read
// as text, or an error.
type toolFunc[In, Out any] func(ctx context.Context, req *mcp.CallToolRequest, in In) (Out, string, error)

// addTool registers a tool whose input and output schemas are generated from
// In (unless t has one) and Out, with the closed sets written in as enums. Arguments are decoded strictly (an unknown argument or a value
// of the wrong type is BAD_USER_INPUT naming it), a failure becomes a tool
// error coded as over GraphQL, and a panic becomes INTERNAL.
func addTool[In, Out any](s *Server, t *mcp.Tool, run toolFunc[In, Out], inEnums, outEnums []enumAt) error {
	var err error
	in, _ := t.InputSchema.(*jsonschema.Schema)
	if in == nil { // else the caller wrote descriptions of its own into In's schema
		in, err = jsonschema.For[In](nil)
	}
	if err == nil {
		err = setEnums(in, inEnums)
	}
	if err != nil {
		return fmt.Errorf("mcpserver: input schema of %s: %w", t.Name, err)
	}
	out, err := jsonschema.For[Out](nil)
	if err == nil {
		err = setEnums(out, outEnums)
	}
	if err != nil {
		return fmt.Errorf("mcpserver: output schema of %s: %w", t.Name, err)
	}
	t.InputSchema, t.OutputSchema = in, out
	s.mcp.AddTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, _ error) {
		ctx, stop := requestContext(ctx, req.Extra)
		defer stop()
		started := time.Now()
		defer func() {
			if p := recover(); p != nil {
				s.logger.ErrorContext(ctx, "mcp: panic in tool", slog.String("tool", t.Name),
					slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
				res = s.toolError(ctx, t.Name, errors.New("panic"))
			}
			s.observe(ctx, callerName(ctx), t.Name, outcomeOf(res), time.Since(started))
		}()
		var args In
		if err := decodeArguments(req.Params.Arguments, &args); err != nil {
			return s.toolError(ctx, t.Name, err), nil
		}
		ctx, progress := withProgressLog(ctx)
		result, text, err := run(ctx, req, args)
		if err != nil {
			return s.toolError(ctx, t.Name, err), nil
		}
		res = &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}, StructuredContent: result}
		if len(*progress) > 0 {
			res.Meta = mcp.Meta{ProgressSentMeta: *progress}
		}
		return res, nil
	})
	return nil
}

// callerName is who a call acts for, as logs name it.
func callerName(ctx context.Context) string {
	if p, ok := gateway.PrincipalFrom(ctx); ok {
		return p.Name
	}
	return gateway.DevPrincipal.Name
}

// outcomeOf is a call's outcome: "ok", or its error's code.
func outcomeOf(res *mcp.CallToolResult) string {
	if res == nil || !res.IsError || len(res.Content) == 0 {
		return "ok"
	}
	if text, ok := res.Content[0].(*mcp.TextContent); ok {
		if code, _, found := strings.Cut(text.Text, ":"); found {
			return code
		}
	}
	return "error"
}

// decodeArguments reads a tool's arguments into dst, refusing arguments the
// tool does not have and values of the wrong type, by name.
func decodeArguments(raw json.RawMessage, dst any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return gateway.NewInputError("arguments", "must be a JSON object")
		}
		return gateway.NewInputError(field, "must be "+jsonKind(typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return gateway.NewInputError(name, "is not an argument of this tool")
	default:
		return gateway.NewInputError("arguments", "must be a JSON object")
	}
}

// jsonKind names the JSON value a Go type reads.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "an object"
	}
}

// prefixed ties a domain error to the argument it is about ("turns[2]"), so a
// field the domain names ("content") is reported as "turns[2].content".
type prefixed struct {
	prefix string
	err    error
}

func (e *prefixed) Error() string { return e.err.Error() }
func (e *prefixed) Unwrap() error { return e.err }

func inField(prefix string, err error) error { return &prefixed{prefix: prefix, err: err} }

// partialError is the failure of a call that had done part of its work:
// the error, with what was done before it.
type partialError struct {
	done any
	err  error
}

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// toolError is a failed call as MCP reports it: isError, and a text that
// starts with the code GraphQL would give and names the argument at fault
// ("BAD_USER_INPUT: turns[0].role: must be one of …"), then the error's
// machine-readable facts ("retryAfterMs: 1200"). It carries no structured
// content: a client validates structured content against the tool's output
// schema even on errors (the TypeScript SDK does) and would replace the
// error with its own. What a partial call finished follows as a second
// text, in JSON.
func (s *Server) toolError(ctx context.Context, tool string, err error) *mcp.CallToolResult {
	path := func(field string) string { return field }
	var pe *prefixed
	if errors.As(err, &pe) {
		path = func(field string) string {
			if field == "" {
				return pe.prefix
			}
			return pe.prefix + "." + field
		}
	}
	e := apierror.Classify(err, path)
	switch e.Code {
	case apierror.CodeInternal:
		s.logger.ErrorContext(ctx, "mcp: internal error", slog.String("tool", tool), slog.String("err", err.Error()))
	case apierror.CodeUnavailable:
		s.logger.WarnContext(ctx, "mcp: the database is unavailable", slog.String("tool", tool), slog.String("err", err.Error()))
	}
	text := e.Code + ": " + e.Message
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field+":") {
		text = e.Code + ": " + e.Field + ": " + e.Message
	}
	keys := make([]string, 0, len(e.Extra))
	for k := range e.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		text += fmt.Sprintf(" (%s: %v)", k, e.Extra[k])
	}
	content := []mcp.Content{&mcp.TextContent{Text: text}}
	var partial *partialError
	if errors.As(err, &partial) {
		done, _ := json.Marshal(partial.done)
		content = append(content, &mcp.TextContent{Text: "Done before the failure: " + string(done)})
	}
	return &mcp.CallToolResult{IsError: true, Content: content}
}

// scope is who a call acts for, and the caller.
type scope struct {
	WorkspaceID, UserID, AgentID string
	principal                    gateway.Principal
	dev                          bool
}

// What a call in dev mode (no API keys) acts as when it names none.
const (
	DevWorkspace = "dev"
	DevUser      = "dev-user"
	DevAgent     = "dev-agent"
	// DefaultNamespace is where a write goes when the caller may write
	// everywhere (dev mode, a whole-workspace grant) and names none.
	DefaultNamespace = "default"
)

// bind fills workspace, user and agent from the key's binding where the call
// left them out (in dev mode: DevWorkspace, DevUser, DevAgent). Where the
// key has no binding workspace and user are required, and the agent too
// when needAgent. A value that differs from the binding is left for the
// domain to refuse.
func (s *Server) bind(ctx context.Context, workspaceID, userID, agentID string, needAgent bool) (scope, error) {
	p, err := s.svc.Caller(ctx)
	if err != nil {
		return scope{}, err
	}
	sc := scope{WorkspaceID: workspaceID, UserID: userID, AgentID: agentID, principal: p, dev: s.dev}
	if s.dev {
		sc.WorkspaceID, sc.UserID = cmp.Or(sc.WorkspaceID, DevWorkspace), cmp.Or(sc.UserID, DevUser)
		if needAgent {
			sc.AgentID = cmp.Or(sc.AgentID, DevAgent)
		}
		return sc, nil
	}
	if sc.WorkspaceID == "" {
		if p.WorkspaceID == gateway.AllWorkspaces {
			return scope{}, gateway.NewInputError("workspaceId", "is required: this key is not bound to one workspace")
		}
		sc.WorkspaceID = p.WorkspaceID
	}
	if sc.UserID == "" {
		if p.UserID == "" {
			return scope{}, gateway.NewInputError("userId", "is required: this key is not bound to a user")
		}
		sc.UserID = p.UserID
	}
	if sc.AgentID == "" {
		if needAgent && p.AgentID == "" {
			return scope{}, gateway.NewInputError("agentId", "is required: this key is not bound to an agent")
		}
		sc.AgentID = p.AgentID
	}
	return sc, nil
}

// namespace is the namespace a call names, else the one the key's grants
// leave: the only grant that reads (for a read) or writes (for a write).
// A whole-workspace grant writes to DefaultNamespace and reads everywhere;
// several grants read everywhere they reach, and a write must name one.
func (sc scope) namespace(given string, write bool) (string, error) {
	if given != "" {
		return given, nil
	}
	need := gateway.AccessRead
	if write {
		need = gateway.AccessWrite
	}
	var reach []string
	for _, g := range sc.principal.Grants {
		if g.Access >= need {
			reach = append(reach, g.Namespace)
		}
	}
	switch {
	case sc.dev || (len(reach) == 1 && reach[0] == ""):
		if write {
			return DefaultNamespace, nil
		}
		return "", nil
	case len(reach) == 1:
		return reach[0], nil
	case !write:
		return "", nil
	case len(reach) == 0:
		return "", gateway.NewInputError("namespace", "is required, and this key writes in no namespace")
	}
	return "", gateway.NewInputError("namespace", "is required: this key writes in several namespaces ("+strings.Join(reach, ", ")+")")
}

// ProgressSentMeta is the _meta key of a tool result that lists the
// progress notifications the call sent before it ({progress, message}): a
// proxy (mcp-stdio) hands on any its client has not had yet before the
// result, since its client library takes notifications off the wire behind
// the responses.
const ProgressSentMeta = "memory-gateway/progress-sent"

// progressSent is one progress notification as ProgressSentMeta lists it.
type progressSent struct {
	Progress float64 `json:"progress"`
	Message  string  `json:"message,omitempty"`
}

type progressLogKey struct{}

// withProgressLog gives a tool call a log of the progress notifications it
// sends.
func withProgressLog(ctx context.Context) (context.Context, *[]progressSent) {
	log := new([]progressSent)
	return context.WithValue(ctx, progressLogKey{}, log), log
}

// logProgress records a progress notification sent by the call of ctx.
func logProgress(ctx context.Context, p *mcp.ProgressNotificationParams) {
	if log, ok := ctx.Value(progressLogKey{}).(*[]progressSent); ok {
		*log = append(*log, progressSent{Progress: p.Progress, Message: p.Message})
	}
}

// progressSentOf reads the ProgressSentMeta of a result, as a client
// decodes it.
func progressSentOf(meta mcp.Meta) []mcp.ProgressNotificationParams {
	raw, err := json.Marshal(meta[ProgressSentMeta])
	if err != nil {
		return nil
	}
	var sent []progressSent
	if json.Unmarshal(raw, &sent) != nil {
		return nil
	}
	out := make([]mcp.ProgressNotificationParams, len(sent))
	for i, p := range sent {
		out[i] = mcp.ProgressNotificationParams{Progress: p.Progress, Message: p.Message}
	}
	return out
}
