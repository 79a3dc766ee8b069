// Package schemacompat finds the changes between two GraphQL schemas that
// break a client written against the older one: what it could ask for is
// gone or means something else, or what it sends is no longer enough.
// Additions a client can ignore (a type, a field, an enum value, an
// optional argument) are not breaking.
package schemacompat

import (
	"fmt"
	"sort"

	"github.com/vektah/gqlparser/v2/ast"
)

// Breaks lists what in the new schema breaks clients of the old one, one
// sentence each, sorted.
func Breaks(old, new *ast.Schema) []string {
	var out []string
	for name, was := range old.Types {
		if was.BuiltIn {
			continue
		}
		now, ok := new.Types[name]
		if !ok {
			out = append(out, fmt.Sprintf("type %s was removed", name))
			continue
		}
		if now.Kind != was.Kind {
			out = append(out, fmt.Sprintf("type %s was %s and is %s", name, was.Kind, now.Kind))
			continue
		}
		switch was.Kind {
		case ast.Object, ast.Interface:
			out = append(out, outputFieldBreaks(name, was, now)...)
		case ast.InputObject:
			out = append(out, inputFieldBreaks(name, was, now)...)
		case ast.Enum:
			for _, v := range was.EnumValues {
				if now.EnumValues.ForName(v.Name) == nil {
					out = append(out, fmt.Sprintf("enum value %s.%s was removed", name, v.Name))
				}
			}
		case ast.Union:
			for _, member := range was.Types {
				if !contains(now.Types, member) {
					out = append(out, fmt.Sprintf("union %s no longer holds %s", name, member))
				}
			}
		}
		for _, iface := range was.Interfaces {
			if !contains(now.Interfaces, iface) {
				out = append(out, fmt.Sprintf("type %s no longer implements %s", name, iface))
			}
		}
	}
	sort.Strings(out)
	return out
}

// outputFieldBreaks: a field a client selects must stay, with a type it
// can read (the same, or made non-null), taking every argument it sends
// with the same type, and asking for no new required one.
func outputFieldBreaks(typeName string, was, now *ast.Definition) []string {
	var out []string
	for _, f := range was.Fields {
		if isIntrospection(f.Name) {
			continue
		}
		g := now.Fields.ForName(f.Name)
		if g == nil {
			out = append(out, fmt.Sprintf("field %s.%s was removed", typeName, f.Name))
			continue
		}
		if !readable(f.Type, g.Type) {
			out = append(out, fmt.Sprintf("field %s.%s was %s and is %s", typeName, f.Name, f.Type, g.Type))
		}
		for _, a := range f.Arguments {
			b := g.Arguments.ForName(a.Name)
			switch {
			case b == nil:
				out = append(out, fmt.Sprintf("argument %s.%s(%s) was removed", typeName, f.Name, a.Name))
			case !sendable(a.Type, b.Type):
				out = append(out, fmt.Sprintf("argument %s.%s(%s) was %s and is %s", typeName, f.Name, a.Name, a.Type, b.Type))
			}
		}
		for _, b := range g.Arguments {
			if f.Arguments.ForName(b.Name) == nil && b.Type.NonNull && b.DefaultValue == nil {
				out = append(out, fmt.Sprintf("argument %s.%s(%s) is new and required", typeName, f.Name, b.Name))
			}
		}
	}
	return out
}

// inputFieldBreaks: a field a client sends must stay, taking what it took,
// and no new field may be required.
func inputFieldBreaks(typeName string, was, now *ast.Definition) []string {
	var out []string
	for _, f := range was.Fields {
		g := now.Fields.ForName(f.Name)
		switch {
		case g == nil:
			out = append(out, fmt.Sprintf("input field %s.%s was removed", typeName, f.Name))
		case !sendable(f.Type, g.Type):
			out = append(out, fmt.Sprintf("input field %s.%s was %s and is %s", typeName, f.Name, f.Type, g.Type))
		}
	}
	for _, g := range now.Fields {
		if was.Fields.ForName(g.Name) == nil && g.Type.NonNull && g.DefaultValue == nil {
			out = append(out, fmt.Sprintf("input field %s.%s is new and required", typeName, g.Name))
		}
	}
	return out
}

// readable: a client that read values of type was reads values of type
// now: the same type, made non-null at any level at most.
func readable(was, now *ast.Type) bool {
	if was == nil || now == nil {
		return was == now
	}
	if was.NonNull && !now.NonNull {
		return false
	}
	if (was.Elem == nil) != (now.Elem == nil) {
		return false
	}
	if was.Elem != nil {
		return readable(was.Elem, now.Elem)
	}
	return was.NamedType == now.NamedType
}

// sendable: what a client sent as type was is still accepted as type now:
// the same type, made nullable at any level at most.
func sendable(was, now *ast.Type) bool {
	return readable(now, was)
}

func isIntrospection(name string) bool { return len(name) > 1 && name[:2] == "__" }

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
