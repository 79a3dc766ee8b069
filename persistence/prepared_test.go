package persistence

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/statements"
)

func TestNumberedPlaceholders(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                            "",
		"SELECT 1":                    "SELECT 1",
		"SELECT ?":                    "SELECT $1",
		"unnest(?::text[], ?::int[])": "unnest($1::text[], $2::int[])",
		"?,?,?,?,?,?,?,?,?,?,?":       "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11",
	}
	for in, want := range cases {
		require.Equal(t, want, numberedPlaceholders(in), in)
	}
}

// seenStatements is a query hook that keeps what it saw.
type seenStatements struct {
	mu     sync.Mutex
	events []bun.QueryEvent
}

func (s *seenStatements) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (s *seenStatements) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, *e)
}

func (s *seenStatements) all() []bun.QueryEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bun.QueryEvent(nil), s.events...)
}

// Arrays bound to a prepared statement's parameters reach PostgreSQL as they
// were, escapes and NULLs included, and the statement reaches the query
// hooks as bun's own do.
func TestPreparedStatementsBindArrays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestPostgres(t)
	counter := &QueryCounter{}
	seen := &seenStatements{}
	db.AddQueryHook(counter)
	db.AddQueryHook(seen)
	ctx, requestStatements := statements.WithCounter(ctx)

	// texts reads the elements of a text[] parameter, NULL as "(null)", and
	// whether the array itself was NULL.
	texts := func(a arrayParam) ([]string, bool) {
		t.Helper()
		var out []string
		isNull := false
		query := "SELECT coalesce(x, '(null)'), $1::text[] IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) " +
			"UNION ALL SELECT NULL, $1::text[] IS NULL WHERE $1::text[] IS NULL"
		err := db.queryPrepared(ctx, query, []any{a}, func(rows *sql.Rows) error {
			for rows.Next() {
				var x sql.NullString
				if err := rows.Scan(&x, &isNull); err != nil {
					return err
				}
				if x.Valid {
					out = append(out, x.String)
				}
			}
			return nil
		})
		require.NoError(t, err)
		return out, isNull
	}

	got, isNull := texts(textArray(arrayTexts))
	require.Equal(t, arrayTexts, got)
	require.False(t, isNull)
	got, _ = texts(textArray{"a\x00b"})
	require.Equal(t, []string{"ab"}, got, "a NUL cannot be stored in text: dropped, as in a literal")
	one := "it's"
	got, _ = texts(nullableTextArray{nil, &one, nil})
	require.Equal(t, []string{"(null)", "it's", "(null)"}, got)
	got, _ = texts(textArray{})
	require.Empty(t, got)
	_, isNull = texts(textArray(nil))
	require.True(t, isNull, "a nil array is NULL")

	var times []time.Time
	err := db.queryPrepared(ctx, "SELECT unnest($1::timestamptz[])", []any{timeArray(arrayTimes())}, func(rows *sql.Rows) error {
		return db.ScanRows(ctx, rows, &times)
	})
	require.NoError(t, err)
	require.Len(t, times, len(arrayTimes()))
	for i, want := range arrayTimes() {
		require.True(t, want.Truncate(time.Microsecond).Equal(times[i]), "element %d: %s, want %s", i, times[i], want)
	}
	var ints []int
	err = db.queryPrepared(ctx, "SELECT unnest($1::int[])", []any{intArray{3, -2, 0, 1 << 30}}, func(rows *sql.Rows) error {
		return db.ScanRows(ctx, rows, &ints)
	})
	require.NoError(t, err)
	require.Equal(t, []int{3, -2, 0, 1 << 30}, ints)

	const ran = 7
	require.EqualValues(t, ran, counter.Count(), "the metric counts prepared statements")
	require.EqualValues(t, ran, requestStatements.Load(), "so does the request's count")
	events := seen.all()
	require.Len(t, events, ran)
	last := events[ran-1]
	require.Equal(t, "SELECT unnest($1::int[])", last.Query)
	require.Equal(t, []any{intArray{3, -2, 0, 1 << 30}}, last.QueryArgs)
	require.NoError(t, last.Err)

	err = db.queryPrepared(ctx, "SELECT missing FROM nowhere", nil, func(*sql.Rows) error { return nil })
	require.ErrorContains(t, err, "nowhere")
	events = seen.all()
	require.Len(t, events, ran+1)
	require.Error(t, events[ran].Err, "the hooks see the failure")
}

// A server that drops a connection's prepared statements (DEALLOCATE ALL,
// DISCARD ALL: what a pooler's reset query runs) costs nothing outside a
// transaction: the statement is prepared again and runs. Inside one, the
// transaction fails and the next one prepares it anew.
func TestPreparedStatementsOutliveADeallocate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestPostgres(t)
	// One connection: the DEALLOCATE below reaches the connection the
	// statement was prepared on.
	db.DB.DB.SetMaxOpenConns(1)

	const query = "SELECT $1::int + 1"
	next := func(ctx context.Context, tx *bun.Tx, n int) (int, error) {
		var got int
		err := db.queryPreparedIn(ctx, tx, query, []any{n}, func(rows *sql.Rows) error {
			if !rows.Next() {
				return sql.ErrNoRows
			}
			return rows.Scan(&got)
		})
		return got, err
	}
	got, err := next(ctx, nil, 1)
	require.NoError(t, err)
	require.Equal(t, 2, got)

	_, err = db.ExecContext(ctx, "DEALLOCATE ALL")
	require.NoError(t, err)
	got, err = next(ctx, nil, 2)
	require.NoError(t, err, "prepared again")
	require.Equal(t, 3, got)

	_, err = db.ExecContext(ctx, "DISCARD ALL")
	require.NoError(t, err)
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := next(ctx, &tx, 3)
		return err
	})
	require.True(t, stalePrepared(err), "inside a transaction the statement cannot run again: %v", err)
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		got, err = next(ctx, &tx, 4)
		return err
	})
	require.NoError(t, err, "the next transaction prepares it anew")
	require.Equal(t, 5, got)
}

// openTestPostgres opens the PostgreSQL of TEST_DATABASE_URL, or skips.
func openTestPostgres(t *testing.T) *DB {
	t.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		t.Skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
	}
	db, err := Open(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}
