package schemacompat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// released is the schema of the last release, which the clients in
// clients/ were written against. Cutting a release copies schema.graphqls
// here under the release's version; until then a change that breaks it
// fails this test.
const released = "testdata/released-0.1.0.graphqls"

func load(t *testing.T, name, text string) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: name, Input: text})
	require.NoError(t, err, name)
	return s
}

func loadFile(t *testing.T, path string) *ast.Schema {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return load(t, filepath.Base(path), string(b))
}

// TestSchemaKeepsTheReleasedOne: the schema breaks no client of the last
// released one.
func TestSchemaKeepsTheReleasedOne(t *testing.T) {
	t.Parallel()
	breaks := Breaks(loadFile(t, released), loadFile(t, filepath.Join("..", "schema.graphqls")))
	require.Empty(t, breaks, "schema.graphqls breaks clients of %s: keep what they use, or make a new major release", released)
}

func TestBreaks(t *testing.T) {
	t.Parallel()
	const base = `
		interface Node { id: ID! }
		type Query { job(id: ID!): Job, jobs(first: Int, status: Status): [Job!]! }
		type Job implements Node { id: ID! status: Status! note: String }
		enum Status { ACCEPTED RUNNING SUCCESS }
		input JobInput { name: String!, note: String }
		type Mutation { add(input: JobInput!): Job }
		union Thing = Job
	`
	tests := []struct {
		name   string
		schema string
		want   []string
	}{
		{"additions break nothing", base + `
			extend type Job { extra: Int }
			extend enum Status { FAILED }
			extend input JobInput { more: Int }
			type Other { x: Int }`, nil},
		{"a field removed", `
			interface Node { id: ID! }
			type Query { job(id: ID!): Job, jobs(first: Int, status: Status): [Job!]! }
			type Job implements Node { id: ID! status: Status! }
			enum Status { ACCEPTED RUNNING SUCCESS }
			input JobInput { name: String!, note: String }
			type Mutation { add(input: JobInput!): Job }
			union Thing = Job`, []string{"field Job.note was removed"}},
		{"an output made nullable, an enum value removed, an input field made required", `
			interface Node { id: ID! }
			type Query { job(id: ID!): Job, jobs(first: Int, status: Status): [Job!]! }
			type Job implements Node { id: ID! status: Status note: String }
			enum Status { ACCEPTED SUCCESS }
			input JobInput { name: String!, note: String! }
			type Mutation { add(input: JobInput!): Job }
			union Thing = Job`, []string{
			"enum value Status.RUNNING was removed",
			"field Job.status was Status! and is Status",
			"input field JobInput.note was String and is String!",
		}},
		{"an argument removed, one new and required, a type made a list", `
			interface Node { id: ID! }
			type Query { job(id: ID!, at: Int!): Job, jobs(first: Int): [Job!] }
			type Job implements Node { id: ID! status: Status! note: [String] }
			enum Status { ACCEPTED RUNNING SUCCESS }
			input JobInput { name: String!, note: String }
			type Mutation { add(input: JobInput!): Job }
			union Thing = Job`, []string{
			"argument Query.job(at) is new and required",
			"argument Query.jobs(status) was removed",
			"field Job.note was String and is [String]",
			"field Query.jobs was [Job!]! and is [Job!]",
		}},
		{"an output made non-null and an argument made nullable break nothing", `
			interface Node { id: ID! }
			type Query { job(id: ID): Job!, jobs(first: Int, status: Status): [Job!]! }
			type Job implements Node { id: ID! status: Status! note: String! }
			enum Status { ACCEPTED RUNNING SUCCESS }
			input JobInput { name: String, note: String }
			type Mutation { add(input: JobInput): Job }
			union Thing = Job`, nil},
		{"a type removed, an interface and a union member dropped", `
			interface Node { id: ID! }
			type Query { job(id: ID!): Job, jobs(first: Int, status: Status): [Job!]! }
			type Job { id: ID! status: Status! note: String }
			enum Status { ACCEPTED RUNNING SUCCESS }
			input JobInput { name: String!, note: String }
			type Mutation { add(input: JobInput!): Job }
			type Other { x: Int }
			union Thing = Other`, []string{
			"type Job no longer implements Node",
			"union Thing no longer holds Job",
		}},
	}
	old := load(t, "old", base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Breaks(old, load(t, "new", tt.schema)))
		})
	}
}
