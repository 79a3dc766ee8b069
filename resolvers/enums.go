package resolvers

import (
	"context"
	"reflect"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// strictEnums holds enum values in variables to their exact spelling.
//
// gqlparser's variable coercion accepts an enum value in any case
// ("openviking" for OPENVIKING), and the generated lookup of a bound enum
// then finds nothing and yields the zero value: a filter is silently
// dropped, an input reported missing. Values written in the query
// document are checked exactly by validation; variables are not. This
// extension checks every enum-typed value in the variables — in inputs,
// filters, lists and arguments alike — against the schema, once, before
// anything runs, and refuses a value that is not exactly one of the type's
// values, naming the variable path and the values allowed.
type strictEnums struct {
	schema *ast.Schema
}

var (
	_ graphql.HandlerExtension        = strictEnums{}
	_ graphql.OperationContextMutator = strictEnums{}
)

func (strictEnums) ExtensionName() string { return "StrictEnumVariables" }

func (strictEnums) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (e strictEnums) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	for _, vd := range rc.Operation.VariableDefinitions {
		val, ok := rc.Variables[vd.Variable]
		if !ok {
			continue
		}
		if err := e.check(ast.Path{ast.PathName("variable"), ast.PathName(vd.Variable)}, vd.Type, val); err != nil {
			return err
		}
	}
	return nil
}

func (e strictEnums) check(path ast.Path, typ *ast.Type, val any) *gqlerror.Error {
	if val == nil || typ == nil {
		return nil
	}
	if typ.Elem != nil {
		// Coerced variables hold lists as []any, or as typed slices
		// ([]map[string]any for a list of input objects).
		list := reflect.ValueOf(val)
		if list.Kind() != reflect.Slice {
			return e.check(path, typ.Elem, val) // a single value coerced to a list
		}
		for i := range list.Len() {
			if err := e.check(append(path[:len(path):len(path)], ast.PathIndex(i)), typ.Elem, list.Index(i).Interface()); err != nil {
				return err
			}
		}
		return nil
	}
	def := e.schema.Types[typ.NamedType]
	if def == nil {
		return nil
	}
	switch def.Kind {
	case ast.Enum:
		s, ok := val.(string)
		if !ok {
			return nil // not a string: coercion reports it
		}
		names := make([]string, len(def.EnumValues))
		for i, v := range def.EnumValues {
			if v.Name == s {
				return nil
			}
			names[i] = v.Name
		}
		err := gqlerror.ErrorPathf(path, "%q is not a %s value (want %s)", s, def.Name, strings.Join(names, ", "))
		errcode.Set(err, errcode.ValidationFailed)
		return err
	case ast.InputObject:
		obj, ok := val.(map[string]any)
		if !ok {
			return nil
		}
		for _, f := range def.Fields {
			if v, present := obj[f.Name]; present {
				if err := e.check(append(path[:len(path):len(path)], ast.PathName(f.Name)), f.Type, v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// introspectionGuard refuses, coded, an operation that asks for the schema
// (__schema, __type) where introspection is off, rather than letting the
// executor fail it as an internal error. __typename stays available.
type introspectionGuard struct{}

var (
	_ graphql.HandlerExtension        = introspectionGuard{}
	_ graphql.OperationContextMutator = introspectionGuard{}
)

func (introspectionGuard) ExtensionName() string { return "IntrospectionGuard" }

func (introspectionGuard) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (introspectionGuard) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if !rc.DisableIntrospection || rc.Operation == nil || !asksForSchema(rc.Doc, rc.Operation.SelectionSet) {
		return nil
	}
	err := gqlerror.Errorf("schema introspection is off outside dev mode (see DEV_MODE)")
	err.Extensions = map[string]any{"code": CodeForbidden}
	return err
}

// asksForSchema reports a root selection of __schema or __type, through
// fragments too.
func asksForSchema(doc *ast.QueryDocument, set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if asksForSchema(doc, s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && asksForSchema(doc, f.SelectionSet) {
				return true
			}
		}
	}
	return false
}
