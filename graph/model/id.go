package model

import "github.com/99designs/gqlgen/graphql"

// MarshalID writes an ID as gqlgen does.
func MarshalID(id string) graphql.Marshaler { return graphql.MarshalID(id) }

// UnmarshalID reads an ID. An explicit null is an ID not given (""), as it
// is for strings: gqlgen's own reading makes it the string "null", so an
// optional filter or scope sent as null would match an id named "null".
func UnmarshalID(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	return graphql.UnmarshalID(v)
}
