package resolvers

import (
	"context"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph"
)

// pageArgument is the argument that sizes a page of a list or connection.
const pageArgument = "first"

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
	// first argument.
	paged map[string]bool
}

func pagedComplexity(es graphql.ExecutableSchema) pagedSchema {
	paged := map[string]bool{}
	for name, def := range es.Schema().Types {
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		for _, f := range def.Fields {
			if f.Arguments.ForName(pageArgument) != nil {
				paged[name+"."+f.Name] = true
			}
		}
	}
	return pagedSchema{ExecutableSchema: es, paged: paged}
}

// Complexity implements graphql.ExecutableSchema.
func (s pagedSchema) Complexity(ctx context.Context, typeName, field string, childComplexity int, args map[string]any) (int, bool) {
	if !s.paged[typeName+"."+field] {
		return s.ExecutableSchema.Complexity(ctx, typeName, field, childComplexity, args)
	}
	var first *int
	if v, ok := args[pageArgument]; ok && v != nil {
		n, err := graphql.UnmarshalInt(v)
		if err != nil {
			// Not a number: execution refuses it before anything is read;
			// the largest page is the cost meanwhile.
			n = gateway.PageSizeMax
		}
		first = &n
	}
	return pageCost(childComplexity, first), true
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
