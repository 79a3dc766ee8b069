// Package local is the built-in memory backend. It keeps turns in its own
// tables (the only tables that hold conversation content), commits a session
// by archiving its turns and producing one long-term memory per turn, and
// retrieves with the database's full-text search: PostgreSQL tsvector or
// SQLite FTS5. Feedback corrects a memory in place or deletes it. It makes a
// fresh install useful end to end with no external service.
package local

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/groupcommit"
	"github.com/memory-gateway/memory-gateway/namespace"
)

// Memory states.
const (
	stateActive = "active"
)

// resultColumns are what retrieval reads of a memory.
const resultColumns = "m.seq, m.id, m.workspace_id, m.user_id, m.session_id, m.turn_id, m.content, m.content_hash, m.committed_by"

// maxQueryTerms bounds the terms of one full-text query.
const maxQueryTerms = 32

// Backend is the local backend. It is safe for concurrent use.
type Backend struct {
	db     *bun.DB
	now    func() time.Time
	search fullText
	// inserts batches concurrent turn writes into shared statements.
	inserts *groupcommit.Batcher[memoryRow, bool]
}

// fullText is the database's full-text search, one implementation per
// dialect (search_postgres.go, search_sqlite.go), chosen in New.
type fullText interface {
	// match narrows sel to the memories of workspaceID and userID matching
	// any of terms and selects their relevance as "score" (higher is
	// better). The full-text index finds them: the cost follows the user's
	// matching memories, not the user's whole history.
	match(sel *bun.SelectQuery, workspaceID, userID string, terms []string) *bun.SelectQuery
	// writesIndex tells whether the backend writes the index itself (with
	// index and unindex, in the transaction that changes the memories)
	// rather than the database keeping it in step.
	writesIndex() bool
	// index adds stored memories (their Seq known) to the index.
	index(ctx context.Context, db bun.IDB, rows []memoryRow) error
	// unindex takes the memory of seq out of the index (before its
	// corrected content goes in).
	unindex(ctx context.Context, db bun.IDB, seq int64) error
	// mergeStep merges the index's parts a bounded step; it reports
	// whether there was anything to merge.
	mergeStep(ctx context.Context, db *bun.DB) (bool, error)
}

var (
	_ backendtype.BackendAdapter   = (*Backend)(nil)
	_ backendtype.TurnIngester     = (*Backend)(nil)
	_ backendtype.BatchIngester    = (*Backend)(nil)
	_ backendtype.SessionCommitter = (*Backend)(nil)
	_ backendtype.Retriever        = (*Backend)(nil)
	_ backendtype.FeedbackApplier  = (*Backend)(nil)
	_ backendtype.HealthChecker    = (*Backend)(nil)
	_ backendtype.TurnRemover      = (*Backend)(nil)
	_ backendtype.TurnReader       = (*Backend)(nil)
)

// New returns the local backend on db, whose migrations must be applied.
// now is the clock (nil means time.Now).
func New(db *bun.DB, now func() time.Time) *Backend {
	if now == nil {
		now = time.Now
	}
	b := &Backend{db: db, now: now, search: fullTextOf(db)}
	// Concurrent ingests share one INSERT (and one commit), one at a time;
	// a turn written twice never shares a batch with itself, so "created"
	// stays exact.
	b.inserts = &groupcommit.Batcher[memoryRow, bool]{
		Write: b.insertTurns,
		Alone: b.insertTurn,
		Key:   func(r memoryRow) string { return r.ID },
	}
	return b
}

// Name implements backendtype.BackendAdapter.
func (b *Backend) Name() backendtype.Backend { return backendtype.BackendLocal }

type memoryRow struct {
	bun.BaseModel `bun:"table:local_memories,alias:m"`
	Seq           int64 `bun:"seq,pk,autoincrement"`
	ID            string
	GatewayID     string
	WorkspaceID   string
	UserID        string
	AgentID       string
	SessionID     string
	Namespace     string
	TurnID        string
	Role          string
	Content       string
	ContentHash   string
	State         string
	CommittedBy   *string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Score         float64 `bun:"score,scanonly"`
}

type archiveRow struct {
	bun.BaseModel `bun:"table:local_archives,alias:la"`
	ID            string
	JobID         string
	WorkspaceID   string
	UserID        string
	SessionID     string
	Namespace     string
	TurnCount     int
	CreatedAt     time.Time
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:24]
}

// memoryID is the local id of a turn: derived from its gateway id, so a
// replayed write lands on the same row.
func memoryID(gatewayID string) string { return "lm_" + shortHash(gatewayID) }

func archiveID(jobID string) string { return "la_" + shortHash(jobID) }

func sessionURI(workspaceID, userID, sessionID string) string {
	return "local://" + url.PathEscape(workspaceID) + "/users/" + url.PathEscape(userID) + "/sessions/" + url.PathEscape(sessionID)
}

func memoryURI(m *memoryRow) string {
	return sessionURI(m.WorkspaceID, m.UserID, m.SessionID) + "/turns/" + url.PathEscape(m.TurnID)
}

// IngestTurn implements backendtype.TurnIngester.
func (b *Backend) IngestTurn(ctx context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	row := memoryRowOf(w, b.now().UTC().Truncate(time.Microsecond))
	created, err := b.inserts.Do(ctx, row)
	if err != nil {
		return backendtype.WriteResult{}, err
	}
	return writeResultOf(&row, created), nil
}

// IngestTurns implements backendtype.BatchIngester: a session's consecutive
// turns in one statement, in order.
func (b *Backend) IngestTurns(ctx context.Context, ws []backendtype.TurnWrite) ([]backendtype.WriteResult, error) {
	now := b.now().UTC().Truncate(time.Microsecond)
	rows := make([]memoryRow, len(ws))
	for i, w := range ws {
		rows[i] = memoryRowOf(w, now)
	}
	created, _, err := b.insertTurns(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := make([]backendtype.WriteResult, len(rows))
	for i := range rows {
		out[i] = writeResultOf(&rows[i], created[i])
	}
	return out, nil
}

func memoryRowOf(w backendtype.TurnWrite, now time.Time) memoryRow {
	return memoryRow{
		ID: memoryID(w.GatewayID), GatewayID: w.GatewayID, WorkspaceID: w.WorkspaceID, UserID: w.UserID,
		AgentID: w.AgentID, SessionID: w.SessionID, Namespace: w.Namespace, TurnID: w.TurnID,
		Role: string(w.Role), Content: w.Content, ContentHash: w.ContentHash, State: stateActive,
		CreatedAt: now, UpdatedAt: now,
	}
}

func writeResultOf(row *memoryRow, created bool) backendtype.WriteResult {
	return backendtype.WriteResult{
		Status:    backendtype.ResultSuccess,
		Created:   created,
		NativeID:  row.ID,
		NativeURI: memoryURI(row),
		Response:  map[string]any{"status": "stored", "id": row.ID},
	}
}

// insertTurn stores one turn; it reports whether the row is new.
func (b *Backend) insertTurn(ctx context.Context, row memoryRow) (bool, error) {
	created, _, err := b.insertTurns(ctx, []memoryRow{row})
	if err != nil {
		return false, err
	}
	return created[0], nil
}

// insertTurns stores turns of different ids in one statement, in order (so
// their seq follows the batch's order), indexes the new ones where the
// backend writes the index, and reports which rows are new.
func (b *Backend) insertTurns(ctx context.Context, rows []memoryRow) ([]bool, []error, error) {
	var stored []struct {
		Seq int64
		ID  string
	}
	store := func(ctx context.Context, db bun.IDB) error {
		stored = stored[:0]
		err := db.NewInsert().Model(&rows).ExcludeColumn("seq").On("CONFLICT (id) DO NOTHING").
			Returning("seq, id").Scan(ctx, &stored)
		if err != nil {
			return fmt.Errorf("local: error storing turns: %w", err)
		}
		if !b.search.writesIndex() || len(stored) == 0 {
			return nil
		}
		seqs := make(map[string]int64, len(stored))
		for _, s := range stored {
			seqs[s.ID] = s.Seq
		}
		created := make([]memoryRow, 0, len(stored))
		for _, r := range rows {
			if seq, ok := seqs[r.ID]; ok {
				r.Seq = seq
				created = append(created, r)
			}
		}
		return b.search.index(ctx, db, created)
	}
	var err error
	if b.search.writesIndex() {
		err = b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return store(ctx, tx) })
	} else {
		err = store(ctx, b.db)
	}
	if err != nil {
		return nil, nil, err
	}
	created := make(map[string]bool, len(stored))
	for _, s := range stored {
		created[s.ID] = true
	}
	out := make([]bool, len(rows))
	for i, r := range rows {
		out[i] = created[r.ID]
	}
	return out, make([]error, len(rows)), nil
}

// CommitSession implements backendtype.SessionCommitter. It claims the session's
// uncommitted turns of the job's user for the job, archives them and produces a session
// archive ref plus one long-term memory ref per turn. A retry of the same job
// produces the same refs.
func (b *Backend) CommitSession(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	now := b.now().UTC().Truncate(time.Microsecond)
	var turns []memoryRow
	var archive archiveRow
	err := b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*memoryRow)(nil)).
			Set("committed_by = ?", req.JobID).
			Set("updated_at = ?", now).
			Where("workspace_id = ?", req.WorkspaceID).
			Where("session_id = ?", req.SessionID).
			Where("user_id = ?", req.UserID).
			Where("committed_by IS NULL").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("local: error claiming turns: %w", err)
		}
		if err := tx.NewSelect().Model(&turns).
			Column("seq", "id", "workspace_id", "user_id", "agent_id", "session_id", "namespace", "turn_id", "created_at").
			Where("committed_by = ?", req.JobID).
			OrderExpr("seq").Scan(ctx); err != nil {
			return fmt.Errorf("local: error reading committed turns: %w", err)
		}
		if len(turns) == 0 {
			return nil
		}
		archive = archiveRow{
			ID: archiveID(req.JobID), JobID: req.JobID, WorkspaceID: req.WorkspaceID, UserID: req.UserID,
			SessionID: req.SessionID, Namespace: req.Namespace, TurnCount: len(turns), CreatedAt: now,
		}
		if _, err := tx.NewInsert().Model(&archive).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("local: error archiving session: %w", err)
		}
		return nil
	})
	if err != nil {
		return backendtype.CommitResult{}, err
	}
	if len(turns) == 0 {
		return backendtype.CommitResult{
			Status:   backendtype.ResultSkipped,
			Response: map[string]any{"status": "skipped", "reason": "no_turns"},
		}, nil
	}
	refs := make([]backendtype.ProducedRef, 0, len(turns)+1)
	refs = append(refs, backendtype.ProducedRef{
		RefType:   backendtype.RefTypeSessionArchive,
		NativeID:  archive.ID,
		NativeURI: sessionURI(req.WorkspaceID, req.UserID, req.SessionID) + "/archives/" + archive.ID,
		Metadata:  backendtype.Metadata{"turn_count": len(turns)},
	})
	for i := range turns {
		t := &turns[i]
		refs = append(refs, backendtype.ProducedRef{
			RefType:   backendtype.RefTypeLongTermMemory,
			NativeID:  t.ID,
			NativeURI: memoryURI(t),
			Metadata:  backendtype.Metadata{"turn_id": t.TurnID},
			// The memory is the turn itself: it lies where the turn was
			// written, whoever else wrote in the session.
			Scope: &backendtype.SessionScope{AgentID: t.AgentID, Namespace: t.Namespace},
		})
	}
	return backendtype.CommitResult{
		Status:   backendtype.ResultSuccess,
		Refs:     refs,
		Response: map[string]any{"status": "committed", "id": archive.ID},
	}, nil
}

// Matching implements backendtype.RecallMatcher: full-text search (FTS5 bm25
// on SQLite, ts_rank_cd on PostgreSQL) finds the query's words, not its
// meaning.
func (b *Backend) Matching() backendtype.Matching { return backendtype.MatchWords }

// Retrieve implements backendtype.Retriever with full-text search over the
// caller's active memories (same workspace and user, under the namespace).
func (b *Backend) Retrieve(ctx context.Context, q backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	terms := queryTerms(q.Query)
	if len(terms) == 0 {
		return nil, nil
	}
	var rows []memoryRow
	sel := b.search.match(b.db.NewSelect().Model(&rows).ColumnExpr(resultColumns), q.WorkspaceID, q.UserID, terms)
	sel = sel.Where("m.workspace_id = ?", q.WorkspaceID).
		Where("m.user_id = ?", q.UserID).
		Where("m.state = ?", stateActive)
	if q.Namespace != "" {
		cond, args := namespace.Condition("m.namespace", q.Namespace)
		sel = sel.Where(cond, args...)
	}
	if q.SessionID != "" {
		sel = sel.Where("m.session_id = ?", q.SessionID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = backendtype.RetrieveLimitDefault
	}
	if err := sel.OrderExpr("score DESC, m.seq DESC").Limit(limit).Scan(ctx); err != nil {
		return nil, fmt.Errorf("local: error searching memories: %w", err)
	}
	items := make([]backendtype.RetrievedItem, len(rows))
	for i := range rows {
		m := &rows[i]
		memType := backendtype.RefTypeMessageMemory
		if m.CommittedBy != nil {
			memType = backendtype.RefTypeLongTermMemory
		}
		items[i] = backendtype.RetrievedItem{
			Text: m.Content, Score: m.Score, NativeID: m.ID, NativeURI: memoryURI(m),
			MemoryType: memType, ContentHash: m.ContentHash,
		}
	}
	return items, nil
}

// RemoveTurn implements backendtype.TurnRemover: the turn's row goes, unless a
// commit archived it meanwhile (then it is a memory the gateway holds refs
// of).
func (b *Backend) RemoveTurn(ctx context.Context, w backendtype.TurnWrite) error {
	_, err := b.db.NewDelete().Model((*memoryRow)(nil)).
		Where("id = ?", memoryID(w.GatewayID)).
		Where("workspace_id = ?", w.WorkspaceID).
		Where("user_id = ?", w.UserID).
		Where("committed_by IS NULL").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("local: error removing turn: %w", err)
	}
	return nil
}

// ReadTurn implements backendtype.TurnReader: the turn as this backend
// holds it now (a correction has replaced its content and hash; a delete or
// an erasure removed it).
func (b *Backend) ReadTurn(ctx context.Context, gatewayID string) (backendtype.TurnWrite, bool, error) {
	var row memoryRow
	err := b.db.NewSelect().Model(&row).Where("m.id = ?", memoryID(gatewayID)).Where("m.gateway_id = ?", gatewayID).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return backendtype.TurnWrite{}, false, nil
	}
	if err != nil {
		return backendtype.TurnWrite{}, false, fmt.Errorf("local: error reading turn: %w", err)
	}
	return backendtype.TurnWrite{
		GatewayID: row.GatewayID, WorkspaceID: row.WorkspaceID, UserID: row.UserID, AgentID: row.AgentID,
		SessionID: row.SessionID, TurnID: row.TurnID, Namespace: row.Namespace, Role: backendtype.Role(row.Role),
		Content: row.Content, ContentHash: row.ContentHash, OccurredAt: row.CreatedAt,
	}, true, nil
}

// Health implements backendtype.HealthChecker.
func (b *Backend) Health(ctx context.Context) error {
	return b.db.PingContext(ctx)
}

// stopWords are dropped from queries: they match nearly every turn.
var stopWords = map[string]struct{}{
	"a": {}, "an": {}, "and": {}, "are": {}, "as": {}, "at": {}, "be": {}, "by": {}, "did": {}, "do": {},
	"does": {}, "for": {}, "from": {}, "how": {}, "i": {}, "in": {}, "is": {}, "it": {}, "me": {}, "my": {},
	"of": {}, "on": {}, "or": {}, "that": {}, "the": {}, "this": {}, "to": {}, "was": {}, "we": {}, "what": {},
	"when": {}, "where": {}, "which": {}, "who": {}, "why": {}, "with": {}, "you": {}, "your": {},
}

// words splits text into its words: runs of letters and digits. Queries
// and the SQLite index split alike.
func words(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// queryTerms splits a natural-language query into distinct lower-case words
// of letters and digits, without stop words. Only such words reach the
// full-text query syntax, so no operator can be injected.
func queryTerms(query string) []string {
	all := words(strings.ToLower(query))
	seen := map[string]struct{}{}
	terms := make([]string, 0, len(all))
	for _, w := range all {
		if _, stop := stopWords[w]; stop {
			continue
		}
		if _, dup := seen[w]; dup {
			continue
		}
		seen[w] = struct{}{}
		terms = append(terms, w)
		if len(terms) == maxQueryTerms {
			break
		}
	}
	return terms
}

var _ backendtype.MemoryReader = (*Backend)(nil)

// ReadMemories implements backendtype.MemoryReader: the user's rows by id (a
// session archive is no row of its own: it is not read back).
func (b *Backend) ReadMemories(ctx context.Context, workspaceID, userID string, ms []backendtype.MemoryLocator) ([]backendtype.ReadMemory, error) {
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.NativeID != "" {
			ids = append(ids, m.NativeID)
		}
	}
	out := make([]backendtype.ReadMemory, len(ms))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []memoryRow
	err := b.db.NewSelect().Model(&rows).Column("id", "content").
		Where("workspace_id = ?", workspaceID).Where("user_id = ?", userID).Where("state = ?", stateActive).
		Where("id IN (?)", bun.List(ids)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("local: error reading memories: %w", err)
	}
	texts := make(map[string]string, len(rows))
	for _, r := range rows {
		texts[r.ID] = r.Content
	}
	for i, m := range ms {
		out[i].Text, out[i].Found = texts[m.NativeID]
	}
	return out, nil
}
