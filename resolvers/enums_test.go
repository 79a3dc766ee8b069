package resolvers_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

type introType struct {
	Kind        string
	Name        string
	OfType      *introType
	InputFields []struct {
		Name string
		Type introType
	}
	Fields []struct {
		Name string
		Args []struct {
			Name string
			Type introType
		}
	}
	EnumValues []struct{ Name string }
}

const introspectionQuery = `{ __schema { types { kind name
	enumValues { name }
	inputFields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
	fields { name args { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }`

// named unwraps NON_NULL and LIST wrappers.
func named(t introType) introType {
	for t.OfType != nil {
		t = *t.OfType
	}
	return t
}

// enumPosition is a place an enum value can be given in a variable: an
// argument of a root field, through nested input fields.
type enumPosition struct {
	root, arg string
	path      []string // input fields below the argument
	argType   string   // the argument's type as written in a variable definition
	enum      string
	list      bool
}

// TestEveryEnumPositionRefusesAnotherSpelling walks every enum-typed input
// position of the schema (found by introspection) and gives it a lowercase
// value through a variable: each is refused with BAD_USER_INPUT naming the
// variable path and the allowed values, and nothing runs.
func TestEveryEnumPositionRefusesAnotherSpelling(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		var schema struct {
			Schema struct{ Types []introType } `json:"__schema"`
		}
		h.data(t, introspectionQuery, nil, &schema)
		types := map[string]introType{}
		for _, ty := range schema.Schema.Types {
			types[ty.Name] = ty
		}
		var positions []enumPosition
		var walk func(p enumPosition, t introType, seen map[string]bool)
		walk = func(p enumPosition, ty introType, seen map[string]bool) {
			n := named(ty)
			isList := strings.Contains(typeString(ty), "[")
			def := types[n.Name]
			switch def.Kind {
			case "ENUM":
				p.enum, p.list = n.Name, isList
				positions = append(positions, p)
			case "INPUT_OBJECT":
				if seen[n.Name] {
					return
				}
				seen[n.Name] = true
				for _, f := range def.InputFields {
					q := p
					q.path = append(append([]string{}, p.path...), f.Name)
					walk(q, f.Type, seen)
				}
				delete(seen, n.Name)
			}
		}
		for _, root := range []string{"Query", "Mutation", "Subscription"} {
			for _, f := range types[root].Fields {
				for _, a := range f.Args {
					walk(enumPosition{root: root, arg: a.Name, argType: typeString(a.Type)}, a.Type, map[string]bool{})
				}
			}
		}
		require.NotEmpty(t, positions)
		roots := map[string]bool{}
		for _, p := range positions {
			roots[p.root+"."+rootFieldOf(types, p)+"("+p.arg+")"] = true
			value := strings.ToLower(types[p.enum].EnumValues[0].Name)
			var bad any = value
			if p.list {
				bad = []any{value}
			}
			// A value that is valid but for the enum: required fields
			// filled in along the path.
			v := bad
			if len(p.path) > 0 {
				v = withRequired(types, named(argTypeOf(types, p)).Name, p.path, bad)
			}
			op := "query"
			if p.root != "Query" {
				op = strings.ToLower(p.root)
			}
			field := rootFieldOf(types, p)
			query := fmt.Sprintf(`%s($v: %s) { %s(%s: $v) { __typename } }`, op, p.argType, field, p.arg)
			_, resp := h.doAs(t, nil, query, map[string]any{"v": v})
			require.Len(t, resp.Errors, 1, "%s: %s", query, resp.Data)
			e := resp.Errors[0]
			where := strings.Join(append([]string{"v"}, p.path...), ".")
			require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], "%s %v", query, e)
			require.Equal(t, where, listIndex.ReplaceAllString(e.Extensions["field"].(string), ""), "%s", query)
			require.Contains(t, e.Message, types[p.enum].EnumValues[0].Name, "the allowed values are listed")
			raw, _ := json.Marshal(resp.Data)
			require.Contains(t, []string{"null", ""}, string(raw))
		}
		t.Logf("%d enum positions under %d root arguments: %v", len(positions), len(roots), sortedKeys(roots))
	})
}

// rootFieldOf finds the root field an argument belongs to.
func rootFieldOf(types map[string]introType, p enumPosition) string {
	for _, f := range types[p.root].Fields {
		for _, a := range f.Args {
			if a.Name == p.arg && typeString(a.Type) == p.argType {
				return f.Name
			}
		}
	}
	return ""
}

func typeString(t introType) string {
	switch t.Kind {
	case "NON_NULL":
		return typeString(*t.OfType) + "!"
	case "LIST":
		return "[" + typeString(*t.OfType) + "]"
	default:
		return t.Name
	}
}

func argTypeOf(types map[string]introType, p enumPosition) introType {
	for _, f := range types[p.root].Fields {
		for _, a := range f.Args {
			if a.Name == p.arg && typeString(a.Type) == p.argType {
				return a.Type
			}
		}
	}
	return introType{}
}

// withRequired builds an input object of typeName whose required fields
// hold plausible values and whose field at path holds bad.
func withRequired(types map[string]introType, typeName string, path []string, bad any) map[string]any {
	obj := map[string]any{}
	for _, f := range types[typeName].InputFields {
		if len(path) > 0 && f.Name == path[0] {
			if len(path) == 1 {
				obj[f.Name] = bad
			} else {
				obj[f.Name] = withRequired(types, named(f.Type).Name, path[1:], bad)
			}
			continue
		}
		if f.Type.Kind != "NON_NULL" {
			continue
		}
		inner := named(f.Type)
		switch types[inner.Name].Kind {
		case "ENUM":
			obj[f.Name] = types[inner.Name].EnumValues[0].Name
		case "INPUT_OBJECT":
			obj[f.Name] = withRequired(types, inner.Name, nil, nil)
		default:
			switch inner.Name {
			case "Int":
				obj[f.Name] = 1
			case "Boolean":
				obj[f.Name] = true
			default:
				obj[f.Name] = "x"
			}
		}
		if strings.HasPrefix(typeString(f.Type), "[") {
			obj[f.Name] = []any{obj[f.Name]}
		}
	}
	return obj
}

// listIndex is a list index in a field path ("turns[0].role").
var listIndex = regexp.MustCompile(`\[\d+\]`)
