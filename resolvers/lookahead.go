package resolvers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph/model"
)

// lookAhead makes what a query reads cost the same number of statements
// every time. A dataloader batches what arrives within its wait, so on a
// busy server a level of the graph can split over several batches; here,
// once a root query field has its result, the selection below it is walked
// level by level, and each level loads what each of its fields needs for
// every parent at once (one statement per field and level), priming the
// request's loaders. The resolvers then answer from the loaders' caches.
// What the walk does not cover still goes through the loaders as before.
type lookAhead struct {
	// satisfies lists, per object type, the type and the interfaces and
	// unions it belongs to: what a fragment may be spread on.
	satisfies map[string][]string
}

func newLookAhead(schema *ast.Schema) lookAhead {
	satisfies := map[string][]string{}
	for name, def := range schema.Types {
		if def.Kind != ast.Object {
			continue
		}
		names := []string{name}
		for _, abstract := range schema.GetImplements(def) {
			names = append(names, abstract.Name)
		}
		satisfies[name] = names
	}
	return lookAhead{satisfies: satisfies}
}

var (
	_ graphql.HandlerExtension = lookAhead{}
	_ graphql.FieldInterceptor = lookAhead{}
)

func (lookAhead) ExtensionName() string                   { return "LookAhead" }
func (lookAhead) Validate(graphql.ExecutableSchema) error { return nil }
func (la lookAhead) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	fc := graphql.GetFieldContext(ctx)
	if err != nil || res == nil || fc == nil || fc.Object != "Query" || fc.Field.Definition == nil {
		return res, err
	}
	l, ok := lookupLoaders(ctx)
	if !ok {
		return res, err
	}
	w := &walker{oc: graphql.GetOperationContext(ctx), l: l, satisfies: la.satisfies}
	// A failed look-ahead costs only its batching: the resolvers load what
	// is missing themselves, and report any error where it belongs.
	_ = w.value(ctx, fc.Field.Definition.Type.Name(), res, fc.Field.Selections)
	return res, err
}

type walker struct {
	oc        *graphql.OperationContext
	l         *loaders
	satisfies map[string][]string
}

// fields collects the fields of sel that apply to an object of type typ.
func (w *walker) fields(sel ast.SelectionSet, typ string) []graphql.CollectedField {
	names := w.satisfies[typ]
	if names == nil {
		names = []string{typ}
	}
	return graphql.CollectFields(w.oc, sel, names)
}

// step is what one field of a level leads to: the objects of the next
// level, of type typ; conn says the field's selection is a connection's.
type step struct {
	typ  string
	objs []any
	conn bool
}

// value walks a root field's result.
func (w *walker) value(ctx context.Context, typ string, v any, sel ast.SelectionSet) error {
	if conn, ok := connectionNodes(v); ok {
		return w.connection(ctx, typ, conn, sel)
	}
	var objs []any
	switch x := v.(type) {
	case []gateway.WebhookEndpoint:
		return nil // endpoints have no edges
	case *gateway.RetrieveResult:
		for i := range x.Items {
			objs = append(objs, &x.Items[i])
		}
		return w.level(ctx, "ContextItem", objs, w.child(sel, "RetrieveContextPayload", "items"))
	default:
		objs = []any{v}
	}
	return w.level(ctx, typ, objs, sel)
}

// connection walks the nodes of a connection's edges.
func (w *walker) connection(ctx context.Context, connType string, nodes []any, sel ast.SelectionSet) error {
	edges := w.child(sel, connType, "edges")
	if len(edges) == 0 || len(nodes) == 0 {
		return nil
	}
	edgeType := strings.TrimSuffix(connType, "Connection") + "Edge"
	nodeType := strings.TrimSuffix(connType, "Connection")
	return w.level(ctx, nodeType, nodes, w.child(edges, edgeType, "node"))
}

// level loads what sel needs below objs, then walks the next levels.
func (w *walker) level(ctx context.Context, typ string, objs []any, sel ast.SelectionSet) error {
	if len(objs) == 0 || len(sel) == 0 {
		return nil
	}
	// Interfaces (Node, Job): each concrete type walks its own fragment.
	byType := map[string][]any{}
	var order []string
	for _, o := range objs {
		name, obj := concrete(o)
		if name == "" {
			continue
		}
		if _, seen := byType[name]; !seen {
			order = append(order, name)
		}
		byType[name] = append(byType[name], obj)
	}
	for _, name := range order {
		for _, f := range w.fields(sel, name) {
			follow := lookAheadEdges[name][f.Name]
			if follow == nil {
				continue
			}
			next, err := follow(ctx, w, byType[name], f)
			if err != nil {
				return err
			}
			if next.conn {
				err = w.connection(ctx, next.typ+"Connection", next.objs, f.Selections)
			} else {
				err = w.level(ctx, next.typ, next.objs, f.Selections)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// page reads a connection field's paging arguments as its resolver gets
// them.
func (w *walker) page(f graphql.CollectedField) (gateway.PageRequest, error) {
	args := f.ArgumentMap(w.oc.Variables)
	var a paging
	if n, ok := intArg(args["first"]); ok {
		a.first = &n
	}
	if n, ok := intArg(args["last"]); ok {
		a.last = &n
	}
	if s, ok := args["after"].(string); ok {
		a.after = &s
	}
	if s, ok := args["before"].(string); ok {
		a.before = &s
	}
	return a.request()
}

// selects reports whether a connection field of type connType selects its
// field name (totalCount, say).
func (w *walker) selects(f graphql.CollectedField, connType, name string) bool {
	for _, c := range w.fields(f.Selections, connType) {
		if c.Name == name {
			return true
		}
	}
	return false
}

func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// child returns the merged selection of field name of typ in sel.
func (w *walker) child(sel ast.SelectionSet, typ, name string) ast.SelectionSet {
	var out ast.SelectionSet
	for _, f := range w.fields(sel, typ) {
		if f.Name == name {
			out = append(out, f.Selections...)
		}
	}
	return out
}

// follow is one edge of the graph: it loads, for all parents of a level,
// what one field needs, and returns the next level.
type follow func(ctx context.Context, w *walker, parents []any, f graphql.CollectedField) (step, error)

// lookAheadEdges are the fields whose resolvers load data, by type. Every
// resolver that loads must be here, or its level batches by timing again;
// so must every field leading to one. TestEveryLoadingResolverHasALookAheadEdge
// derives that list from the resolvers and fails on a field missing here.
var lookAheadEdges = map[string]map[string]follow{
	"CommitJob": {
		"session": func(_ context.Context, _ *walker, ps []any, _ graphql.CollectedField) (step, error) {
			return sessionsOf(each[gateway.CommitJob](ps), func(j *gateway.CommitJob) (string, string) { return j.WorkspaceID, j.SessionID }), nil
		},
		"refs":          pagedEdge(func(l *loaders) *pagedLoader[gateway.MemoryRef] { return l.refsByJob }, jobID, "MemoryRef", 0),
		"outboxEvents":  pagedEdge(func(l *loaders) *pagedLoader[gateway.OutboxEvent] { return l.eventsByJob }, jobID, "OutboxEvent", 0),
		"auditEntries":  pagedEdge(func(l *loaders) *pagedLoader[gateway.AuditEntry] { return l.auditByJob }, jobID, "AuditEntry", 0),
		"outboxSummary": summariesEdge(jobID),
	},
	"ErasureJob": {
		"outboxSummary": summariesEdge(func(j *gateway.ErasureJob) string { return j.ID }),
		"outboxEvents":  pagedEdge(func(l *loaders) *pagedLoader[gateway.OutboxEvent] { return l.eventsByJob }, func(j *gateway.ErasureJob) string { return j.ID }, "OutboxEvent", 0),
		"request": idEdge(func(l *loaders) *idLoader[gateway.ErasureRequest] { return l.erasures }, func(j *gateway.ErasureJob) *string {
			id, _ := j.Metadata["erasure_id"].(string)
			return &id
		}, "ErasureRequest", nil),
	},
	"ErasureRequest": {
		"status":     idEdge(jobsOf, erasureJobID, "", nil),
		"finishedAt": idEdge(jobsOf, erasureJobID, "", nil),
		"job": idEdge(jobsOf, erasureJobID, "ErasureJob", func(j *gateway.CommitJob) any {
			return &gateway.ErasureJob{CommitJob: *j}
		}),
		"backends": func(ctx context.Context, w *walker, ps []any, _ graphql.CollectedField) (step, error) {
			keys := keysOf(each[gateway.ErasureRequest](ps), func(r *gateway.ErasureRequest) string { return r.JobID })
			_, err := w.l.eventsByJob.prefetch(ctx, keys, gateway.PageRequest{First: gateway.PageSizeMax})
			return step{}, err
		},
	},
	"MemoryRef": {
		"job":          idEdge(jobsOf, func(r *gateway.MemoryRef) *string { return r.JobID }, "CommitJob", nil),
		"outboxEvent":  idEdge(eventsOf, func(r *gateway.MemoryRef) *string { return r.OutboxEventID }, "OutboxEvent", nil),
		"supersededBy": idEdge(refsOf, func(r *gateway.MemoryRef) *string { return r.SupersededByRefID }, "MemoryRef", nil),
		"session": func(_ context.Context, _ *walker, ps []any, _ graphql.CollectedField) (step, error) {
			return sessionsOf(each[gateway.MemoryRef](ps), func(r *gateway.MemoryRef) (string, string) { return r.WorkspaceID, r.SessionID }), nil
		},
		// A ref is not its own sibling: the resolver asks for one more.
		"siblings": pagedEdge(func(l *loaders) *pagedLoader[gateway.MemoryRef] { return l.refsByGateway }, func(r *gateway.MemoryRef) string { return r.GatewayID }, "MemoryRef", 1),
		"feedback": pagedEdge(func(l *loaders) *pagedLoader[gateway.MemoryFeedback] { return l.feedbackByRef }, refID, "MemoryFeedback", 0),
		"supersedes": func(ctx context.Context, w *walker, ps []any, _ graphql.CollectedField) (step, error) {
			pages, err := w.l.refsReplacedBy.prefetch(ctx, keysOf(each[gateway.MemoryRef](ps), refID), gateway.PageRequest{First: supersedesMax})
			return step{typ: "MemoryRef", objs: pageItems(pages)}, err
		},
	},
	"OutboxEvent": {
		"job":      idEdge(jobsOf, func(e *gateway.OutboxEvent) *string { return e.JobID }, "CommitJob", nil),
		"owner":    idEdge(jobsOf, func(e *gateway.OutboxEvent) *string { return e.JobID }, "Job", func(j *gateway.CommitJob) any { return gateway.AsJob(*j) }),
		"feedback": idEdge(func(l *loaders) *idLoader[gateway.MemoryFeedback] { return l.feedback }, func(e *gateway.OutboxEvent) *string { return e.FeedbackID }, "MemoryFeedback", nil),
		"refs":     pagedEdge(func(l *loaders) *pagedLoader[gateway.MemoryRef] { return l.refsByEvent }, func(e *gateway.OutboxEvent) string { return e.ID }, "MemoryRef", 0),
		// Every kept attempt of every event, whatever first says: the
		// resolver cuts each list.
		"attempts": idEdge(func(l *loaders) *idLoader[[]gateway.OutboxAttempt] { return l.attempts }, func(e *gateway.OutboxEvent) *string { return &e.ID }, "", nil),
	},
	"Session": {
		"refs":         pagedEdge(func(l *loaders) *pagedLoader[gateway.MemoryRef] { return l.refsBySession }, sessionID, "MemoryRef", 0),
		"jobs":         pagedEdge(func(l *loaders) *pagedLoader[gateway.CommitJob] { return l.jobsBySession }, sessionID, "CommitJob", 0),
		"auditEntries": pagedEdge(func(l *loaders) *pagedLoader[gateway.AuditEntry] { return l.auditBySession }, sessionID, "AuditEntry", 0),
	},
	"AuditEntry": {
		"job": idEdge(jobsOf, func(a *gateway.AuditEntry) *string { return a.JobID }, "CommitJob", nil),
		"session": func(_ context.Context, _ *walker, ps []any, _ graphql.CollectedField) (step, error) {
			var with []*gateway.AuditEntry
			for _, a := range each[gateway.AuditEntry](ps) {
				if a.SessionID != nil {
					with = append(with, a)
				}
			}
			return sessionsOf(with, func(a *gateway.AuditEntry) (string, string) { return a.WorkspaceID, *a.SessionID }), nil
		},
	},
	"MemoryFeedback": {
		"ref":            idEdge(refsOf, func(f *gateway.MemoryFeedback) *string { return &f.MemoryRefID }, "MemoryRef", nil),
		"replacementRef": idEdge(refsOf, func(f *gateway.MemoryFeedback) *string { return f.ReplacementRefID }, "MemoryRef", nil),
		"job":            idEdge(jobsOf, func(f *gateway.MemoryFeedback) *string { return f.JobID }, "CommitJob", nil),
		"outboxEvent":    idEdge(eventsOf, func(f *gateway.MemoryFeedback) *string { return f.OutboxEventID }, "OutboxEvent", nil),
		// One read of the texts and one per backend and user, for the page.
		"reviewTexts": idEdge(func(l *loaders) *idLoader[gateway.FeedbackReviewTexts] { return l.reviewTexts },
			func(f *gateway.MemoryFeedback) *string { return &f.ID }, "", nil),
	},
	"ContextItem": {
		"ref": idEdge(refsOf, func(c *gateway.ContextItem) *string { return c.RefID }, "MemoryRef", nil),
	},
	"WebhookDelivery": {
		"endpoint": idEdge(func(l *loaders) *idLoader[gateway.WebhookEndpoint] { return l.webhookEndpoints },
			func(d *gateway.WebhookDelivery) *string { return &d.EndpointID }, "", nil),
	},
}

func jobsOf(l *loaders) *idLoader[gateway.CommitJob]     { return l.jobs }
func refsOf(l *loaders) *idLoader[gateway.MemoryRef]     { return l.refs }
func eventsOf(l *loaders) *idLoader[gateway.OutboxEvent] { return l.events }

func jobID(j *gateway.CommitJob) string              { return j.ID }
func refID(r *gateway.MemoryRef) string              { return r.ID }
func sessionID(s *gateway.Session) string            { return s.ID }
func erasureJobID(r *gateway.ErasureRequest) *string { return &r.JobID }

// idEdge follows a field that loads one object by id. next, when set, turns
// each loaded object into what the field returns.
func idEdge[P, T any](loader func(*loaders) *idLoader[T], idOf func(*P) *string, typ string, next func(*T) any) follow {
	return func(ctx context.Context, w *walker, ps []any, _ graphql.CollectedField) (step, error) {
		parents := each[P](ps)
		ids := make([]string, 0, len(parents))
		for _, p := range parents {
			if id := idOf(p); id != nil && *id != "" {
				ids = append(ids, *id)
			}
		}
		found, err := loader(w.l).prefetch(ctx, ids)
		if err != nil || typ == "" {
			return step{}, err
		}
		objs := make([]any, 0, len(found))
		for _, id := range distinct(ids) {
			if v, ok := found[id]; ok {
				if next != nil {
					objs = append(objs, next(&v))
				} else {
					objs = append(objs, &v)
				}
			}
		}
		return step{typ: typ, objs: objs}, nil
	}
}

// pagedEdge follows a connection field that loads a page per parent, and
// their totals when the field selects totalCount; extra is what the
// resolver adds to the page's size.
func pagedEdge[P, T any](loader func(*loaders) *pagedLoader[T], keyOf func(*P) string, typ string, extra int) follow {
	return func(ctx context.Context, w *walker, ps []any, f graphql.CollectedField) (step, error) {
		p, err := w.page(f)
		if err != nil {
			return step{}, nil // the resolver reports it
		}
		keys := keysOf(each[P](ps), keyOf)
		if w.selects(f, typ+"Connection", "totalCount") {
			if err := loader(w.l).prefetchTotals(ctx, keys); err != nil {
				return step{}, err
			}
		}
		pages, err := loader(w.l).prefetch(ctx, keys, p.Grown(extra))
		return step{typ: typ, objs: pageItems(pages), conn: true}, err
	}
}

func summariesEdge[P any](keyOf func(*P) string) follow {
	return func(ctx context.Context, w *walker, ps []any, _ graphql.CollectedField) (step, error) {
		_, err := w.l.summaries.prefetch(ctx, keysOf(each[P](ps), keyOf))
		return step{}, err
	}
}

func sessionsOf[P any](parents []*P, of func(*P) (string, string)) step {
	seen := map[string]bool{}
	var objs []any
	for _, p := range parents {
		ws, id := of(p)
		s := sessionOf(ws, id)
		if !seen[s.ID] {
			seen[s.ID] = true
			objs = append(objs, s)
		}
	}
	return step{typ: "Session", objs: objs}
}

func keysOf[P any](parents []*P, keyOf func(*P) string) []string {
	keys := make([]string, len(parents))
	for i, p := range parents {
		keys[i] = keyOf(p)
	}
	return keys
}

func pageItems[T any](pages map[string]gateway.Page[T]) []any {
	var objs []any
	for _, page := range pages {
		for i := range page.Items {
			objs = append(objs, &page.Items[i])
		}
	}
	return objs
}

// each narrows a level's objects to their type.
func each[P any](objs []any) []*P {
	out := make([]*P, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*P); ok {
			out = append(out, p)
		}
	}
	return out
}

// concrete names an object's GraphQL type and returns it as a pointer (nil
// pointers, and anything else, are not walked).
func concrete(v any) (string, any) {
	switch x := v.(type) {
	case gateway.CommitJob:
		return "CommitJob", &x
	case gateway.ErasureJob:
		return "ErasureJob", &x
	case gateway.MemoryRef:
		return "MemoryRef", &x
	case gateway.OutboxEvent:
		return "OutboxEvent", &x
	case gateway.AuditEntry:
		return "AuditEntry", &x
	case gateway.MemoryFeedback:
		return "MemoryFeedback", &x
	case gateway.Session:
		return "Session", &x
	case gateway.ErasureRequest:
		return "ErasureRequest", &x
	case gateway.WebhookDelivery:
		return "WebhookDelivery", &x
	case *gateway.CommitJob:
		return pointerTo("CommitJob", x)
	case *gateway.ErasureJob:
		return pointerTo("ErasureJob", x)
	case *gateway.MemoryRef:
		return pointerTo("MemoryRef", x)
	case *gateway.OutboxEvent:
		return pointerTo("OutboxEvent", x)
	case *gateway.AuditEntry:
		return pointerTo("AuditEntry", x)
	case *gateway.MemoryFeedback:
		return pointerTo("MemoryFeedback", x)
	case *gateway.Session:
		return pointerTo("Session", x)
	case *gateway.ErasureRequest:
		return pointerTo("ErasureRequest", x)
	case *gateway.WebhookDelivery:
		return pointerTo("WebhookDelivery", x)
	case *gateway.ContextItem:
		return pointerTo("ContextItem", x)
	}
	return "", nil
}

func pointerTo[T any](name string, p *T) (string, any) {
	if p == nil {
		return "", nil
	}
	return name, p
}

// connectionNodes returns a connection's nodes.
func connectionNodes(v any) ([]any, bool) {
	switch c := v.(type) {
	case *model.MemoryRefConnection:
		return nodesOf(c.Edges, func(e model.MemoryRefEdge) any { return e.Node }), true
	case *model.CommitJobConnection:
		return nodesOf(c.Edges, func(e model.CommitJobEdge) any { return e.Node }), true
	case *model.JobConnection:
		return nodesOf(c.Edges, func(e model.JobEdge) any { return e.Node }), true
	case *model.OutboxEventConnection:
		return nodesOf(c.Edges, func(e model.OutboxEventEdge) any { return e.Node }), true
	case *model.AuditEntryConnection:
		return nodesOf(c.Edges, func(e model.AuditEntryEdge) any { return e.Node }), true
	case *model.MemoryFeedbackConnection:
		return nodesOf(c.Edges, func(e model.MemoryFeedbackEdge) any { return e.Node }), true
	case *model.ErasureRequestConnection:
		return nodesOf(c.Edges, func(e model.ErasureRequestEdge) any { return e.Node }), true
	case *model.WebhookDeliveryConnection:
		return nodesOf(c.Edges, func(e model.WebhookDeliveryEdge) any { return e.Node }), true
	case *model.SessionConnection:
		return nodesOf(c.Edges, func(e model.SessionEdge) any { return e.Node }), true
	}
	return nil, false
}

func nodesOf[E any](edges []E, node func(E) any) []any {
	out := make([]any, len(edges))
	for i, e := range edges {
		out[i] = node(e)
	}
	return out
}
