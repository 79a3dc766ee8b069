package resolvers

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Defaults of the query shape limits.
const (
	MaxDepthDefault   = 12
	MaxAliasesDefault = 30
	TokenLimitDefault = 15_000
)

// Codes of rejected query shapes.
const (
	CodeQueryTooDeep   = "QUERY_TOO_DEEP"
	CodeTooManyAliases = "TOO_MANY_ALIASES"
)

// shapeLimit rejects operations nested too deep or with too many aliases
// before anything runs: both are cheap ways to make one request do a lot of
// work, which the complexity limit alone does not catch (aliases of a cheap
// field, deep chains of single objects).
type shapeLimit struct {
	maxDepth, maxAliases int
}

var (
	_ graphql.HandlerExtension        = shapeLimit{}
	_ graphql.OperationContextMutator = shapeLimit{}
)

func (shapeLimit) ExtensionName() string                   { return "QueryShapeLimit" }
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (l shapeLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	m := measurer{fragments: oc.Doc.Fragments, active: map[string]bool{}}
	depth := m.depth(oc.Operation.SelectionSet)
	if depth > l.maxDepth {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("the operation is %d levels deep; at most %d are allowed", depth, l.maxDepth),
			Extensions: map[string]any{"code": CodeQueryTooDeep},
		}
	}
	if m.aliases > l.maxAliases {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("the operation uses %d aliases; at most %d are allowed", m.aliases, l.maxAliases),
			Extensions: map[string]any{"code": CodeTooManyAliases},
		}
	}
	return nil
}

type measurer struct {
	fragments ast.FragmentDefinitionList
	active    map[string]bool // fragments being expanded (cycles are invalid anyway)
	aliases   int
}

// depth is the deepest field nesting of a selection set, counting aliases on
// the way.
func (m *measurer) depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				m.aliases++
			}
			deepest = max(deepest, 1+m.depth(s.SelectionSet))
		case *ast.InlineFragment:
			deepest = max(deepest, m.depth(s.SelectionSet))
		case *ast.FragmentSpread:
			def := m.fragments.ForName(s.Name)
			if def == nil || m.active[s.Name] {
				continue
			}
			m.active[s.Name] = true
			deepest = max(deepest, m.depth(def.SelectionSet))
			delete(m.active, s.Name)
		}
	}
	return deepest
}
