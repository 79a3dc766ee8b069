package persistence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// arrayTexts are elements that need every kind of escaping an array literal
// has, and some that look like syntax.
var arrayTexts = []string{
	"", "plain", "it's", `say "hi"`, `back\slash`, `\"'`, "{a,b}", "NULL", "null", " spaced ", "a,b",
	"ünïcödé — “quotes” 🙂", "line\nbreak\ttab", `{"json": "value", "n": 1}`, "''", `\\`, `""`,
}

func arrayTimes() []time.Time {
	return []time.Time{
		time.Date(2026, 12, 7, 16, 4, 5, 123456789, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 5*3600+30*60)),
		time.Date(2026, 12, 7, 16, 4, 5, 1000, time.UTC),
	}
}

// The literals are what bun's pgdialect.Array writes, byte for byte.
func TestPGArrayLiteralsMatchBun(t *testing.T) {
	t.Parallel()
	gen := schema.NewQueryGen(pgdialect.New())
	pointers := func(ss []string) []*string {
		out := make([]*string, 0, len(ss)+2)
		out = append(out, nil)
		for i := range ss {
			out = append(out, &ss[i])
		}
		return append(out, nil)
	}
	times := arrayTimes()
	timePointers := []*time.Time{nil, &times[0], nil, &times[1]}
	cases := []struct {
		name string
		ours schema.QueryAppender
		buns any
	}{
		{"text", textArray(arrayTexts), arrayTexts},
		{"text, empty", textArray{}, []string{}},
		{"text, nil", textArray(nil), []string(nil)},
		{"text with NUL", textArray{"a\x00b"}, []string{"a\x00b"}},
		{"nullable text", nullableTextArray(pointers(arrayTexts)), pointers(arrayTexts)},
		{"nullable text, nil", nullableTextArray(nil), []*string(nil)},
		{"time", timeArray(times), times},
		{"nullable time", nullableTimeArray(timePointers), timePointers},
		{"int", intArray{0, -1, 42, 1 << 40}, []int{0, -1, 42, 1 << 40}},
		{"int, nil", intArray(nil), []int(nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := gen.FormatQuery("?", pgdialect.Array(c.buns))
			got, err := c.ours.AppendQuery(gen, nil)
			require.NoError(t, err)
			require.Equal(t, want, string(got))
		})
	}
}

// formatBatch writes what bun would, and what it writes goes through bun
// again untouched, placeholders in the values included.
func TestFormatBatchIsWhatBunWrites(t *testing.T) {
	t.Parallel()
	d := pgdialect.New()
	gen := schema.NewQueryGen(d)
	question := "what? really?"
	refs := []gateway.MemoryRef{
		{ID: "r1", GatewayID: "g?1", WorkspaceID: "it's", Metadata: gateway.Metadata{"q": "a ? b"}, NativeID: &question, CreatedAt: arrayTimes()[0]},
		{ID: "r2", GatewayID: `g"2\`, ContentHash: &question, UpdatedAt: arrayTimes()[1]},
	}
	args, err := pgRefArrays(refs)
	require.NoError(t, err)
	query := pgRefUpsert(pgRefSource) + " -- ?"
	args = append(args, time.Now())
	got := formatBatch(d, query, args...)
	require.Equal(t, gen.FormatQuery(query, args...), got)
	require.Equal(t, got, gen.FormatQuery(got), "bun leaves a statement without arguments as it is")
}

// PostgreSQL reads back what was written.
func TestPGArrayLiteralsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestPostgres(t)

	var texts []string
	require.NoError(t, db.NewRaw("SELECT unnest(?::text[])", textArray(arrayTexts)).Scan(ctx, &texts))
	require.Equal(t, arrayTexts, texts)

	one := "x"
	var nullable []string
	require.NoError(t, db.NewRaw("SELECT coalesce(x, '(null)') FROM unnest(?::text[]) AS x", nullableTextArray{nil, &one, nil}).Scan(ctx, &nullable))
	require.Equal(t, []string{"(null)", "x", "(null)"}, nullable)

	var times []time.Time
	require.NoError(t, db.NewRaw("SELECT unnest(?::timestamptz[])", timeArray(arrayTimes())).Scan(ctx, &times))
	require.Len(t, times, len(arrayTimes()))
	for i, want := range arrayTimes() {
		require.True(t, want.Truncate(time.Microsecond).Equal(times[i]), "element %d: %s, want %s", i, times[i], want)
	}

	var ints []int
	require.NoError(t, db.NewRaw("SELECT unnest(?::int[])", intArray{3, -2, 0}).Scan(ctx, &ints))
	require.Equal(t, []int{3, -2, 0}, ints)
}

// BenchmarkRefBatchFormat formats the upsert of 4,000 refs (a worker's
// completion batch) with formatBatch, and as bun would with the same
// arguments, growing its buffer as it writes.
func BenchmarkRefBatchFormat(b *testing.B) {
	refs := make([]gateway.MemoryRef, 4000)
	now := time.Now()
	for i := range refs {
		id := fmt.Sprintf("%064x", i)
		refs[i] = gateway.MemoryRef{
			ID: id, GatewayID: id, ProvenanceID: id, WorkspaceID: "ws", UserID: "u1", AgentID: "a", SessionID: "s" + id[:8],
			Namespace: "bench/format", Backend: "EVERMEMOS", RefType: "session", Status: "ACTIVE",
			NativeID: &id, ContentHash: &id, JobID: &id, OutboxEventID: &id, CreatedAt: now, UpdatedAt: now,
		}
	}
	d := pgdialect.New()
	gen := schema.NewQueryGen(d)
	b.Run("formatBatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			args, _ := pgRefArrays(refs)
			_ = formatBatch(d, pgRefUpsert(pgRefSource), args...)
		}
	})
	b.Run("growing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			args, _ := pgRefArrays(refs)
			_ = gen.FormatQuery(pgRefUpsert(pgRefSource), args...)
		}
	})
}
