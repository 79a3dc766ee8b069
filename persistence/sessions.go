package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

type sessionRow struct {
	bun.BaseModel `bun:"table:sessions,alias:s"`
	WorkspaceID   string `bun:",pk"`
	SessionID     string `bun:",pk"`
	UserID        string
	CreatedAt     time.Time
}

type sessionScopeRow struct {
	bun.BaseModel `bun:"table:session_scopes,alias:sc"`
	WorkspaceID   string `bun:",pk"`
	SessionID     string `bun:",pk"`
	AgentID       string `bun:",pk"`
	Namespace     string `bun:",pk"`
	UserID        string
}

// ClaimSession implements gateway.SessionStore. Each statement is
// idempotent on its own, so none needs a transaction: the insert of a new
// session does nothing when another writer won the race, and the owner is
// then read in a statement of its own, which sees the winner's row.
//
// A claim confirmed once stays confirmed — a session's owner never changes
// and its scopes are only ever added — so the store remembers confirmed
// claims and answers a repeated one (the next turn of a conversation)
// without a statement; a claim it has not seen costs one read, and a new
// session or scope a write or two. (Anything that ever removes sessions must
// forget their claims here.)
func (s *Store) ClaimSession(ctx context.Context, c gateway.SessionClaim) (string, error) {
	key := claimKey(c)
	if _, ok := s.claims.Get(key); ok {
		return c.UserID, nil
	}
	owner, scopeKnown, err := s.sessionOwner(ctx, c)
	if err != nil {
		return "", err
	}
	if owner == "" {
		row := sessionRow{WorkspaceID: c.WorkspaceID, SessionID: c.SessionID, UserID: c.UserID, CreatedAt: c.At}
		if _, err := s.db.NewInsert().Model(&row).On("CONFLICT (workspace_id, session_id) DO NOTHING").Exec(ctx); err != nil {
			return "", fmt.Errorf("error claiming session: %w", err)
		}
		if owner, scopeKnown, err = s.sessionOwner(ctx, c); err != nil {
			return "", err
		}
	}
	if owner != c.UserID {
		return owner, nil
	}
	if c.Namespace != "" && !scopeKnown {
		row := sessionScopeRow{WorkspaceID: c.WorkspaceID, SessionID: c.SessionID, AgentID: c.AgentID, Namespace: c.Namespace, UserID: c.UserID}
		if _, err := s.db.NewInsert().Model(&row).On("CONFLICT (workspace_id, session_id, agent_id, namespace) DO NOTHING").Exec(ctx); err != nil {
			return "", fmt.Errorf("error recording the scope of session: %w", err)
		}
	}
	s.claims.Add(key, struct{}{})
	return owner, nil
}

// claimKey identifies a claim; its parts are length-prefixed, so no two
// claims share a key whatever their ids hold.
func claimKey(c gateway.SessionClaim) string {
	var b strings.Builder
	for _, part := range []string{c.WorkspaceID, c.SessionID, c.UserID, c.AgentID, c.Namespace} {
		b.WriteString(strconv.Itoa(len(part)))
		b.WriteByte(':')
		b.WriteString(part)
	}
	return b.String()
}

// sessionOwner reads a session's owner and whether the claim's scope is
// recorded already, in one statement.
func (s *Store) sessionOwner(ctx context.Context, c gateway.SessionClaim) (owner string, scopeKnown bool, err error) {
	var got struct {
		UserID     string
		ScopeKnown bool
	}
	scope := s.db.NewSelect().Model((*sessionScopeRow)(nil)).ColumnExpr("1").
		Where("sc.workspace_id = s.workspace_id").Where("sc.session_id = s.session_id").
		Where("sc.agent_id = ?", c.AgentID).Where("sc.namespace = ?", c.Namespace)
	err = s.db.NewSelect().Model((*sessionRow)(nil)).
		ColumnExpr("s.user_id").
		ColumnExpr("EXISTS (?) AS scope_known", scope).
		Where("s.workspace_id = ?", c.WorkspaceID).
		Where("s.session_id = ?", c.SessionID).
		Scan(ctx, &got)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("error reading the owner of session: %w", err)
	}
	return got.UserID, got.ScopeKnown, nil
}

// SessionFacts implements gateway.SessionStore.
func (s *Store) SessionFacts(ctx context.Context, workspaceID, sessionID string) (gateway.SessionFacts, error) {
	var session sessionRow
	err := s.db.NewSelect().Model(&session).
		Where("s.workspace_id = ?", workspaceID).Where("s.session_id = ?", sessionID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return gateway.SessionFacts{}, nil
	}
	if err != nil {
		return gateway.SessionFacts{}, fmt.Errorf("error reading session: %w", err)
	}
	var scopes []sessionScopeRow
	err = s.db.NewSelect().Model(&scopes).
		Where("sc.workspace_id = ?", workspaceID).Where("sc.session_id = ?", sessionID).
		Where("sc.user_id = ?", session.UserID).
		OrderExpr("sc.agent_id, sc.namespace").
		Scan(ctx)
	if err != nil {
		return gateway.SessionFacts{}, fmt.Errorf("error reading the scopes of session: %w", err)
	}
	facts := gateway.SessionFacts{Owner: session.UserID, Scopes: make([]backendtype.SessionScope, len(scopes))}
	for i, sc := range scopes {
		facts.Scopes[i] = backendtype.SessionScope{AgentID: sc.AgentID, Namespace: sc.Namespace}
	}
	return facts, nil
}

// UserNamespaces implements gateway.SessionStore.
func (s *Store) UserNamespaces(ctx context.Context, workspaceID, userID string) ([]string, error) {
	var namespaces []string
	err := s.db.NewSelect().Model((*sessionScopeRow)(nil)).
		ColumnExpr("DISTINCT sc.namespace").
		Where("sc.workspace_id = ?", workspaceID).Where("sc.user_id = ?", userID).
		OrderExpr("sc.namespace").
		Scan(ctx, &namespaces)
	if err != nil {
		return nil, fmt.Errorf("error reading the namespaces of user: %w", err)
	}
	return namespaces, nil
}

// labelBySession records the refs named in labelled under the scope of
// their session as it is now (gateway.CommitLabel), read in the completing
// transaction with one statement for the whole batch.
func labelBySession(ctx context.Context, tx bun.Tx, refs []gateway.MemoryRef, labelled map[string]bool) error {
	if len(labelled) == 0 {
		return nil
	}
	type sessionKey struct{ workspace, session string }
	workspaces, sessions := map[string]struct{}{}, map[string]struct{}{}
	for _, r := range refs {
		if labelled[r.ID] {
			workspaces[r.WorkspaceID], sessions[r.SessionID] = struct{}{}, struct{}{}
		}
	}
	var rows []sessionScopeRow
	err := tx.NewSelect().Model(&rows).
		Where("sc.workspace_id IN (?)", bun.List(sortedKeys(workspaces))).
		Where("sc.session_id IN (?)", bun.List(sortedKeys(sessions))).
		OrderExpr("sc.workspace_id, sc.session_id, sc.agent_id, sc.namespace").
		Scan(ctx)
	if err != nil {
		return fmt.Errorf("error reading the scopes of committed sessions: %w", err)
	}
	scopes := map[sessionKey][]backendtype.SessionScope{}
	for _, sc := range rows {
		k := sessionKey{sc.WorkspaceID, sc.SessionID}
		scopes[k] = append(scopes[k], backendtype.SessionScope{AgentID: sc.AgentID, Namespace: sc.Namespace})
	}
	for i := range refs {
		r := &refs[i]
		if labelled[r.ID] {
			r.AgentID, r.Namespace = gateway.CommitLabel(scopes[sessionKey{r.WorkspaceID, r.SessionID}], r.AgentID, r.Namespace)
		}
	}
	return nil
}
