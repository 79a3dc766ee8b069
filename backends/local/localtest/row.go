package localtest

import (
	"time"

	"github.com/uptrace/bun"
)

// Row is a row of the local backend's table, local_memories, as every
// schema since the backend's first holds it: for tests that store memories
// straight into the table, bypassing the backend (no full-text index entry
// is written for them).
type Row struct {
	bun.BaseModel `bun:"table:local_memories"`
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
	CreatedAt     time.Time
	UpdatedAt     time.Time
}
