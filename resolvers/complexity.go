package resolvers

import (
	"context"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph"
)

// pageArguments are the arguments that size a page of a list or
// connection: first forward, last backward.
var pageArguments = []string{"first", "last"}

// newExecutableSchema is the schema the handler serves, its paged fields
// costed by their page size.
func newExecutableSchema(res *Resolver) graphql.ExecutableSchema {
	return pagedComplexity(graph.NewExecutableSchema(graph.Config{Resolvers: res}))
}

// pagedSchema costs every field that takes a page size by that size. The
// fields are found in the schema rather than listed by hand: a list of
// complexity functions is what let four connections through uncosted, and
// a connection added later is costed without anyone remembering to.
type pagedSchema struct {
	graphql.ExecutableSchema
	// paged holds "Type.field" of every list or connection field with a
	// first or last argument.
	paged map[string]bool
}

func pagedComplexity(es graphql.ExecutableSchema) pagedSchema {
	paged := map[string]bool{}
	for name, def := range es.Schema().Types {
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		for _, f := range def.Fields {
			for _, arg := range pageArguments {
				if f.Arguments.ForName(arg) != nil {
					paged[name+"."+f.Name] = true
				}
			}
		}
	}
	return pagedSchema{ExecutableSchema: es, paged: paged}
}

// Complexity implements graphql.ExecutableSchema. A field without a page
// size whose arguments name many things — ids to read, turns to write, a
// retrieval limit — costs that many times its selection: memoryTexts of 100
// ids reads 100 memories from the backends, and retrieveContext with limit
// 100 returns 100 items, each with what they select.
func (s pagedSchema) Complexity(ctx context.Context, typeName, field string, childComplexity int, args map[string]any) (int, bool) {
	if !s.paged[typeName+"."+field] {
		if n := argumentSize(args); n > 1 {
			return pageCost(childComplexity, &n), true
		}
		return s.ExecutableSchema.Complexity(ctx, typeName, field, childComplexity, args)
	}
	// The larger of first and last sizes the page: execution refuses the
	// two together, but the cost is counted before that.
	var size *int
	for _, arg := range pageArguments {
		v, ok := args[arg]
		if !ok || v == nil {
			continue
		}
		n, err := graphql.UnmarshalInt(v)
		if err != nil {
			// Not a number: execution refuses it before anything is read;
			// the largest page is the cost meanwhile.
			n = gateway.PageSizeMax
		}
		if size == nil || n > *size {
			size = &n
		}
	}
	return pageCost(childComplexity, size), true
}

// pageCost is the complexity of a page: its size times what each node
// selects. It saturates rather than overflows: a wrapped product would be
// negative, which the complexity walker replaces by a tiny default cost.
func pageCost(childComplexity int, first *int) int {
	n := gateway.PageSizeDefault
	if first != nil && *first > 0 {
		n = *first
	}
	if childComplexity <= 0 {
		return 1
	}
	if n > (math.MaxInt-1)/childComplexity {
		return math.MaxInt
	}
	return 1 + n*childComplexity
}

// limitArgument is the argument that sizes a retrieval.
const limitArgument = "limit"

// argumentSize is how many things a field's arguments ask for: the longest
// list among them, or a limit, at any depth of input objects.
func argumentSize(args map[string]any) int {
	n := 0
	for name, v := range args {
		switch v := v.(type) {
		case []any:
			n = max(n, len(v))
			for _, item := range v {
				if m, ok := item.(map[string]any); ok {
					n = max(n, argumentSize(m))
				}
			}
		case map[string]any:
			n = max(n, argumentSize(v))
		default:
			if name == limitArgument && v != nil {
				if limit, err := graphql.UnmarshalInt(v); err == nil {
					n = max(n, limit)
				} else {
					n = max(n, gateway.PageSizeMax)
				}
			}
		}
	}
	return n
}
