package resolvers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	gqlast "github.com/vektah/gqlparser/v2/ast"

	"github.com/memory-gateway/memory-gateway/graph"
)

// TestEveryLoadingResolverHasALookAheadEdge keeps lookAheadEdges in step
// with the resolvers. The field resolvers are gqlgen's (graph.ResolverRoot);
// which of them load is read from this package's source (the method reaches
// loadersFrom, itself or through the functions and methods it calls). Each
// field that loads must have an edge, and so must each field leading to a
// type with such a field (or the walk never gets there); every edge must
// name a field resolver of its type.
func TestEveryLoadingResolverHasALookAheadEdge(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	fields := fieldResolvers(t, schema)
	loads := loadingFunctions(t)

	// Fixed point: a field needs an edge when it loads, or when a type it
	// leads to has a field that needs one.
	needed := map[string]bool{}    // "Type.field"
	typeNeeds := map[string]bool{} // types with a field that needs an edge
	for changed := true; changed; {
		changed = false
		for _, f := range fields {
			if needed[f.key()] {
				continue
			}
			if loads[f.impl] || slices.ContainsFunc(leadsTo(schema, f.result), func(typ string) bool { return typeNeeds[typ] }) {
				needed[f.key()], typeNeeds[f.typ], changed = true, true, true
			}
		}
	}
	require.NotEmpty(t, needed, "the analysis found no loading resolver at all")

	var missing []string
	for _, f := range fields {
		if needed[f.key()] && lookAheadEdges[f.typ][f.field] == nil {
			missing = append(missing, f.key()+" ("+f.impl+")")
		}
	}
	require.Empty(t, missing, "loading resolvers without a look-ahead edge: add them to lookAheadEdges (lookahead.go)")

	known := map[string]bool{}
	for _, f := range fields {
		known[f.key()] = true
	}
	for typ, edges := range lookAheadEdges {
		for field := range edges {
			require.True(t, known[typ+"."+field], "lookAheadEdges has %s.%s, which is no field resolver", typ, field)
		}
	}
}

// fieldResolver is one field of an object type answered by a resolver.
type fieldResolver struct {
	typ, field string
	impl       string // the method implementing it: "memoryRefResolver.Job"
	result     string // the field's named type
}

func (f fieldResolver) key() string { return f.typ + "." + f.field }

// fieldResolvers lists gqlgen's field resolvers of every object type but
// the roots (the walk starts below them).
func fieldResolvers(t *testing.T, schema *gqlast.Schema) []fieldResolver {
	t.Helper()
	root := reflect.TypeFor[graph.ResolverRoot]()
	impl := reflect.ValueOf(&Resolver{})
	var out []fieldResolver
	for i := range root.NumMethod() {
		m := root.Method(i)
		if m.Name == "Query" || m.Name == "Mutation" || m.Name == "Subscription" {
			continue
		}
		def := schema.Types[m.Name]
		require.NotNil(t, def, "graph.ResolverRoot.%s names no schema type", m.Name)
		concrete := impl.MethodByName(m.Name).Call(nil)[0].Elem().Type()
		for concrete.Kind() == reflect.Pointer {
			concrete = concrete.Elem()
		}
		iface := m.Type.Out(0)
		for j := range iface.NumMethod() {
			name := iface.Method(j).Name
			idx := slices.IndexFunc(def.Fields, func(f *gqlast.FieldDefinition) bool { return strings.EqualFold(f.Name, name) })
			require.GreaterOrEqual(t, idx, 0, "%s.%s matches no field of %s", iface.Name(), name, def.Name)
			f := def.Fields[idx]
			out = append(out, fieldResolver{typ: def.Name, field: f.Name, impl: concrete.Name() + "." + name, result: f.Type.Name()})
		}
	}
	require.NotEmpty(t, out)
	return out
}

// leadsTo is the object types a field of type name leads the walk to: a
// connection's nodes, an abstract type's implementations, or the type.
func leadsTo(schema *gqlast.Schema, name string) []string {
	def := schema.Types[name]
	if def == nil {
		return nil
	}
	if edges := def.Fields.ForName("edges"); def.Kind == gqlast.Object && edges != nil {
		if edge := schema.Types[edges.Type.Name()]; edge != nil {
			if node := edge.Fields.ForName("node"); node != nil {
				return leadsTo(schema, node.Type.Name())
			}
		}
	}
	switch def.Kind {
	case gqlast.Object:
		return []string{name}
	case gqlast.Interface, gqlast.Union:
		var out []string
		for _, d := range schema.GetPossibleTypes(def) {
			out = append(out, d.Name)
		}
		return out
	}
	return nil
}

// loadingFunctions reads this package's source and returns the functions
// and methods ("recv.Name") that reach loadersFrom.
func loadingFunctions(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	refs := map[string][]string{} // function → what it refers to
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			key, recvType, recvName := fn.Name.Name, "", ""
			if fn.Recv != nil && len(fn.Recv.List) == 1 {
				recvType = typeName(fn.Recv.List[0].Type)
				if len(fn.Recv.List[0].Names) == 1 {
					recvName = fn.Recv.List[0].Names[0].Name
				}
				key = recvType + "." + key
			}
			refs[key] = referencesOf(fn.Body, recvType, recvName)
		}
	}
	require.Contains(t, refs, "loadersFrom")

	loads := map[string]bool{"loadersFrom": true}
	for changed := true; changed; {
		changed = false
		for fn, to := range refs {
			if !loads[fn] && slices.ContainsFunc(to, func(r string) bool { return loads[r] }) {
				loads[fn], changed = true, true
			}
		}
	}
	return loads
}

// referencesOf lists what body refers to that may be a function or method
// of the package: plain identifiers, methods of the receiver (recv.M) and
// methods of a composite literal (T{...}.M).
func referencesOf(body ast.Node, recvType, recvName string) []string {
	var out []string
	var visit func(ast.Node) bool
	visit = func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && recvName != "" && id.Name == recvName {
				out = append(out, recvType+"."+x.Sel.Name)
			} else if lit := compositeLit(x.X); lit != nil {
				out = append(out, typeName(lit.Type)+"."+x.Sel.Name)
			}
			ast.Inspect(x.X, visit) // not x.Sel: a field or a method of something else
			return false
		case *ast.Ident:
			out = append(out, x.Name)
		}
		return true
	}
	ast.Inspect(body, visit)
	return out
}

func compositeLit(e ast.Expr) *ast.CompositeLit {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.UnaryExpr:
			e = x.X
		case *ast.CompositeLit:
			return x
		default:
			return nil
		}
	}
}

// typeName is the name of a (pointer to a, possibly generic) named type.
func typeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return typeName(x.X)
	case *ast.IndexExpr:
		return typeName(x.X)
	case *ast.IndexListExpr:
		return typeName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}
