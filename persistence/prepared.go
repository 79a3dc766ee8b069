package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/schema"
)

// Server-side prepared statements (PostgreSQL) for the statements every
// ingest runs, and the worker's completions. pgdriver sends a query with its
// arguments written into the text (the simple protocol), so PostgreSQL parses
// and plans it each time; for these statements — common table expressions
// over arrays — that was most of their cost: one client ran the three
// statements of a turn in 2.15 ms that way and in 1.12 ms prepared
// (BENCHMARKS.md). Prepared, each is parsed once per connection, and
// PostgreSQL keeps its plan (a generic one after five runs, when it costs no
// more than the custom ones).
//
// A prepared statement's result columns are fixed when it is prepared:
// PostgreSQL answers "cached plan must not change result type" if a
// migration of another release changes them while this process runs. The
// statements here name every column they return, so an added column changes
// nothing; after any schema change PostgreSQL re-plans them by itself.

// preparedStatements are the statements prepared so far, by text. database/sql
// prepares each on a connection the first time it runs there, and again on a
// new connection after one is closed.
type preparedStatements struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// texts are statement texts built once per DB, by name.
	texts map[string]string
}

// cached is query's statement if it is prepared, or nil.
func (p *preparedStatements) cached(query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stmts[query]
}

// forget closes stmt, query's statement, on every connection and drops it,
// so that its next use prepares it again (unless another call already
// replaced it).
func (p *preparedStatements) forget(query string, stmt *sql.Stmt) {
	if stmt == nil {
		return
	}
	p.mu.Lock()
	if p.stmts[query] == stmt {
		delete(p.stmts, query)
	}
	p.mu.Unlock()
	_ = stmt.Close()
}

// forgotten reports whether stmt is no longer query's statement.
func (p *preparedStatements) forgotten(query string, stmt *sql.Stmt) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stmts[query] != stmt
}

// text returns the statement named name, built by build the first time.
func (p *preparedStatements) text(name string, build func() string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.texts[name]; ok {
		return t
	}
	if p.texts == nil {
		p.texts = map[string]string{}
	}
	t := build()
	p.texts[name] = t
	return t
}

// statement returns query prepared, preparing it the first time.
func (p *preparedStatements) statement(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	stmt, ok := p.stmts[query]
	p.mu.Unlock()
	if ok {
		return stmt, nil
	}
	stmt, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if existing, ok := p.stmts[query]; ok {
		// Prepared by two callers at once: keep the first.
		_ = stmt.Close()
		return existing, nil
	}
	if p.stmts == nil {
		p.stmts = map[string]*sql.Stmt{}
	}
	p.stmts[query] = stmt
	return stmt, nil
}

// queryHooks are the bun query hooks of a DB, kept so that the statements
// it runs outside bun (prepared ones) reach them too: the statement counts
// and what tests capture.
type queryHooks struct {
	hooks atomic.Pointer[[]bun.QueryHook]
	mu    sync.Mutex
}

func (h *queryHooks) add(hook bun.QueryHook) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var hooks []bun.QueryHook
	if old := h.hooks.Load(); old != nil {
		hooks = append(hooks, *old...)
	}
	hooks = append(hooks, hook)
	h.hooks.Store(&hooks)
}

func (h *queryHooks) load() []bun.QueryHook {
	if hooks := h.hooks.Load(); hooks != nil {
		return *hooks
	}
	return nil
}

// AddQueryHook adds a bun query hook; it also sees the statements the DB
// runs prepared.
func (db *DB) AddQueryHook(hook bun.QueryHook) {
	db.hooks.add(hook)
	db.DB.AddQueryHook(hook)
}

// queryPrepared runs query, a statement with $1… placeholders, prepared
// with args (arrays as arrayParam, the rest as database/sql takes them), and
// hands its rows to scan. The query hooks see it as bun's own statements:
// QueryTemplate and Query are the text, QueryArgs the arguments.
func (db *DB) queryPrepared(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	return db.queryPreparedIn(ctx, nil, query, args, scan)
}

// queryPreparedIn is queryPrepared inside tx (nil: on any connection). A
// statement prepared on tx's connection already is reused there.
func (db *DB) queryPreparedIn(ctx context.Context, tx *bun.Tx, query string, args []any, scan func(*sql.Rows) error) error {
	hooks := db.hooks.load()
	event := &bun.QueryEvent{DB: db.DB, QueryTemplate: query, Query: query, QueryArgs: args, StartTime: time.Now()}
	for _, h := range hooks {
		ctx = h.BeforeQuery(ctx, event)
	}
	err := db.runPrepared(ctx, tx, query, args, scan)
	event.Err = err
	for i := len(hooks) - 1; i >= 0; i-- {
		hooks[i].AfterQuery(ctx, event)
	}
	return err
}

func (db *DB) runPrepared(ctx context.Context, tx *bun.Tx, query string, args []any, scan func(*sql.Rows) error) error {
	if db.unprepared.Load() {
		return db.runAsText(ctx, tx, query, args, scan)
	}
	params := make([]any, len(args))
	for i, a := range args {
		if p, ok := a.(arrayParam); ok {
			params[i] = p.param()
		} else {
			params[i] = a
		}
	}
	if tx != nil {
		err := runInTx(ctx, tx, db.prepared.cached(query), query, params, scan)
		if stalePrepared(err) {
			// The server dropped the statement from this connection
			// (DEALLOCATE ALL, DISCARD ALL: a pooler's reset). The
			// transaction is lost; the next one prepares it anew.
			db.prepared.forget(query, db.prepared.cached(query))
		}
		return err
	}
	for retried := false; ; retried = true {
		stmt, err := db.prepared.statement(ctx, db.DB.DB, query)
		if err != nil {
			return fmt.Errorf("error preparing a statement: %w", err)
		}
		scanned := false
		err = runStatement(ctx, stmt, params, func(rows *sql.Rows) error {
			scanned = true
			return scan(rows)
		})
		if err == nil || scanned {
			// Rows handed to scan are never read twice.
			return err
		}
		switch {
		case stalePrepared(err):
			db.prepared.forget(query, stmt)
		case !db.prepared.forgotten(query, stmt):
			return err
		}
		// The statement runs again, prepared afresh (also when another
		// call forgot it while this one used it).
		if retried {
			return err
		}
	}
}

// runInTx runs query in tx: as stmt where it is prepared already (reused if
// tx's connection has it), otherwise prepared on tx's connection for this
// transaction alone. Preparing it on the pool instead would wait for a
// second connection while holding tx's: with every connection held by such
// transactions, forever. warmPrepared prepares the statements transactions
// use before they begin.
func runInTx(ctx context.Context, tx *bun.Tx, stmt *sql.Stmt, query string, params []any, scan func(*sql.Rows) error) error {
	var err error
	if stmt != nil {
		stmt = tx.Tx.StmtContext(ctx, stmt)
	} else if stmt, err = tx.Tx.PrepareContext(ctx, query); err != nil {
		return fmt.Errorf("error preparing a statement: %w", err)
	}
	defer func() { _ = stmt.Close() }()
	return runStatement(ctx, stmt, params, scan)
}

// warmPrepared prepares queries that are not prepared yet, before a
// transaction that runs them begins (see runInTx).
func (db *DB) warmPrepared(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, err := db.prepared.statement(ctx, db.DB.DB, q); err != nil {
			return fmt.Errorf("error preparing a statement: %w", err)
		}
	}
	return nil
}

// runAsText runs query with its arguments written into its text (each $n
// replaced by the literal of args[n-1]), as bun sends its statements.
func (db *DB) runAsText(ctx context.Context, tx *bun.Tx, query string, args []any, scan func(*sql.Rows) error) error {
	gen := schema.NewQueryGen(db.Dialect())
	b := make([]byte, 0, len(query)+otherArgLen*len(args))
	for {
		i := strings.IndexByte(query, '$')
		if i < 0 {
			b = append(b, query...)
			break
		}
		b = append(b, query[:i]...)
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(query[i+1 : j])
		if err != nil || n < 1 || n > len(args) {
			return fmt.Errorf("statement %.60q: $%s names no argument of %d", query, query[i+1:j], len(args))
		}
		b = gen.AppendQuery(b, "?", args[n-1])
		query = query[j:]
	}
	if tx != nil {
		return scanAll(scan)(tx.Tx.QueryContext(ctx, string(b)))
	}
	return scanAll(scan)(db.DB.DB.QueryContext(ctx, string(b)))
}

// runStatement runs stmt and hands its rows to scan.
func runStatement(ctx context.Context, stmt *sql.Stmt, params []any, scan func(*sql.Rows) error) error {
	return scanAll(scan)(stmt.QueryContext(ctx, params...))
}

// scanAll hands a query's rows to scan, closes them and reports the first
// error of the query, the scan or the rows.
func scanAll(scan func(*sql.Rows) error) func(*sql.Rows, error) error {
	return func(rows *sql.Rows, err error) error {
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		if err := scan(rows); err != nil {
			return err
		}
		return rows.Err()
	}
}

// stalePrepared reports whether err says the server holds no prepared
// statement of that name on the connection (SQLSTATE 26000).
func stalePrepared(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "26000"
}

// numberedPlaceholders turns a statement's ? placeholders into $1, $2, …,
// for a statement to prepare. The statements it serves hold no other ?.
func numberedPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 2*strings.Count(query, "?"))
	n := 0
	for {
		i := strings.IndexByte(query, '?')
		if i < 0 {
			b.WriteString(query)
			return b.String()
		}
		n++
		b.WriteString(query[:i])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		query = query[i+1:]
	}
}

// columnsOf lists the columns of row type T's table as alias.<column>: what
// a prepared statement names rather than alias.*.
func columnsOf[T any](db *DB, alias string) string {
	fields := db.Table(reflect.TypeFor[T]()).Fields
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = alias + "." + string(f.SQLName)
	}
	return strings.Join(names, ", ")
}

// refsByGatewayIDsQuery is RefsByGatewayIDs' statement, prepared: the refs
// under the gateway ids of its one parameter. (ANY of an array built from
// the parameter, not of the parameter: probed by index even on a table not
// yet analyzed; see inList.)
func refsByGatewayIDsQuery(db *DB) string {
	return "SELECT " + columnsOf[refRow](db, "r") + " FROM memory_refs AS r " +
		"WHERE r.gateway_id = ANY(ARRAY(SELECT unnest($1::text[]))) ORDER BY r.id"
}

// refsByNativeQuery is RefsByNative's statement, prepared: the refs of one
// workspace and backend (its first two parameters) in the linked statuses
// under the native ids or uris of its two arrays (either may be empty).
func refsByNativeQuery(db *DB) string {
	statuses := make([]string, len(linkedRefStatuses))
	for i, st := range linkedRefStatuses {
		statuses[i] = "'" + string(st) + "'"
	}
	return "SELECT " + columnsOf[refRow](db, "r") + " FROM memory_refs AS r " +
		"WHERE r.workspace_id = $1 AND r.backend = $2 AND r.status IN (" + strings.Join(statuses, ", ") + ") " +
		"AND (r.native_id = ANY(ARRAY(SELECT unnest($3::text[]))) OR r.native_uri = ANY(ARRAY(SELECT unnest($4::text[]))))"
}

// prepareOutboxStatements prepares what the outbox's transactions run
// prepared (PostgreSQL: the completion's update, the jobs' aggregation)
// before one begins; a no-op once they are.
func (db *DB) prepareOutboxStatements(ctx context.Context) error {
	if !db.sql.prepares() || db.unprepared.Load() {
		return nil
	}
	return db.warmPrepared(ctx, pgCompleteEventsQuery, db.aggregateJobsQuery())
}
