package resolvers

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// pagedField is a field of the schema that returns a page of things.
type pagedField struct{ typ, field, arg string }

// pagedFields walks the schema for every field returning a list or a
// connection. A connection without a first argument cannot be costed by its
// page size, so it is reported as a failure.
func pagedFields(t *testing.T, schema *ast.Schema) []pagedField {
	t.Helper()
	var out []pagedField
	for name, def := range schema.Types {
		if strings.HasPrefix(name, "__") || (def.Kind != ast.Object && def.Kind != ast.Interface) {
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			isConnection := strings.HasSuffix(f.Type.Name(), "Connection")
			isList := f.Type.Elem != nil
			hasFirst := f.Arguments.ForName("first") != nil
			if isConnection && !hasFirst {
				t.Errorf("%s.%s returns a connection without a first argument: nothing bounds its page, so nothing can cost it", name, f.Name)
			}
			for _, arg := range []string{"first", "last"} {
				if (isConnection || isList) && f.Arguments.ForName(arg) != nil {
					out = append(out, pagedField{typ: name, field: f.Name, arg: arg})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name() < out[j].name() })
	return out
}

func (f pagedField) name() string { return f.typ + "." + f.field + "(" + f.arg + ")" }

// pagedQuery is an operation selecting one paged field with a page of
// first, reached from the root: directly on Query, through node(id:) for
// the types of the graph.
func pagedQuery(t *testing.T, schema *ast.Schema, f pagedField, first int) string {
	t.Helper()
	sel := fmt.Sprintf("%s(%s: %d) { __typename }", f.field, f.arg, first)
	if f.typ == schema.Query.Name {
		return "{ " + sel + " }"
	}
	if !implementsNode(schema, schema.Types[f.typ]) {
		t.Fatalf("%s.%s: the test has no route from Query to %s; teach pagedQuery one", f.typ, f.field, f.typ)
	}
	return fmt.Sprintf(`{ node(id: "x") { ... on %s { %s } } }`, f.typ, sel)
}

func implementsNode(schema *ast.Schema, def *ast.Definition) bool {
	for _, i := range schema.GetImplements(def) {
		if i.Name == "Node" {
			return true
		}
	}
	return false
}

// complexityOf is what the complexity limit sees of a query.
func complexityOf(t *testing.T, es graphql.ExecutableSchema, query string) int {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	require.NoError(t, err, query)
	require.Empty(t, validator.ValidateWithRules(es.Schema(), doc, nil), query)
	return gqlcomplexity.Calculate(context.Background(), es, doc.Operations[0], nil)
}

// TestEveryPagedFieldIsCostedByItsPageSize walks every list and connection
// field of the schema that takes a page size (first) and requires that its
// complexity grows with the page: a page of 100 costs at least 99 times the
// node's selection more than a page of 1. A field added without a
// complexity function fails here, instead of letting a query 100 times over
// the limit through.
func TestEveryPagedFieldIsCostedByItsPageSize(t *testing.T) {
	t.Parallel()
	es := newExecutableSchema(nil)
	schema := es.Schema()
	fields := pagedFields(t, schema)
	require.NotEmpty(t, fields)
	for _, f := range fields {
		t.Run(f.name(), func(t *testing.T) {
			t.Parallel()
			one := complexityOf(t, es, pagedQuery(t, schema, f, 1))
			hundred := complexityOf(t, es, pagedQuery(t, schema, f, 100))
			// Each node selects __typename, which costs 1.
			require.GreaterOrEqual(t, hundred-one, 99,
				"%s.%s costs %d for a page of 1 and %d for a page of 100: give it a complexity function (pageCost)", f.typ, f.field, one, hundred)
		})
	}
}

// TestPageCost: a page costs its size times its nodes, the default page
// when first is absent, and saturates instead of wrapping to a negative
// cost (which the walker would replace by a tiny one).
func TestPageCost(t *testing.T) {
	t.Parallel()
	n := func(i int) *int { return &i }
	for _, tc := range []struct {
		name  string
		child int
		first *int
		want  int
	}{
		{"the default page", 3, nil, 1 + 20*3},
		{"a page of 100", 3, n(100), 301},
		{"a page of 0 is the default", 3, n(0), 1 + 20*3},
		{"nothing selected", 0, n(100), 1},
		{"overflow saturates", math.MaxInt / 2, n(100), math.MaxInt},
		{"a huge page saturates", 1 << 40, n(1 << 30), math.MaxInt},
	} {
		require.Equal(t, tc.want, pageCost(tc.child, tc.first), tc.name)
	}
}

// TestFieldsSizedByTheirArgumentsAreCostedSo: a field without a page size
// whose arguments ask for many things (ids, turns, a retrieval limit) costs
// that many times its selection.
func TestFieldsSizedByTheirArgumentsAreCostedSo(t *testing.T) {
	t.Parallel()
	es := newExecutableSchema(&Resolver{})
	ids := func(n int) string {
		quoted := make([]string, n)
		for i := range quoted {
			quoted[i] = fmt.Sprintf("%q", fmt.Sprintf("ref_%d", i))
		}
		return "[" + strings.Join(quoted, ",") + "]"
	}
	turns := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{workspaceId: "w", userId: "u", agentId: "a", sessionId: "s", turnId: "t", namespace: "n", role: USER, content: "x"},`, n), ",") + "]"
	}
	const selection = `ref { id backend status feedback(first: 10) { edges { node { id } } } }`
	for _, tc := range []struct {
		name      string
		one, many string
	}{
		{"memoryTexts", `{ memoryTexts(ids: ` + ids(1) + `) { text ` + selection + ` } }`, `{ memoryTexts(ids: ` + ids(100) + `) { text ` + selection + ` } }`},
		{"retrieveContext", `{ retrieveContext(input: {workspaceId: "w", userId: "u", agentId: "a", query: "q", limit: 1}) { items { text ` + selection + ` } } }`,
			`{ retrieveContext(input: {workspaceId: "w", userId: "u", agentId: "a", query: "q", limit: 100}) { items { text ` + selection + ` } } }`},
		{"ingestConversationTurns", `mutation { ingestConversationTurns(input: {turns: ` + turns(1) + `}) { results { turn { status } error { code } } } }`,
			`mutation { ingestConversationTurns(input: {turns: ` + turns(100) + `}) { results { turn { status } error { code } } } }`},
	} {
		one, many := complexityOf(t, es, tc.one), complexityOf(t, es, tc.many)
		require.GreaterOrEqual(t, many, 50*one, "%s: 100 of them cost %d, one %d", tc.name, many, one)
	}
}
