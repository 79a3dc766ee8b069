package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// readyTimeout bounds what /readyz asks of the database.
const readyTimeout = 2 * time.Second

// Database is what the readiness probe asks of the database.
type Database interface {
	PingContext(ctx context.Context) error
	PendingMigrations(ctx context.Context) (int, error)
}

// healthHandler answers liveness: the process serves HTTP.
func healthHandler(w http.ResponseWriter, _ *http.Request) {
	writeStatus(w, http.StatusOK, map[string]any{"status": "ok"})
}

// readyHandler answers readiness: the database answers and its schema is
// current.
func readyHandler(db Database) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "database unreachable"})
			return
		}
		pending, err := db.PendingMigrations(ctx)
		if err != nil || pending > 0 {
			writeStatus(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "migrations pending"})
			return
		}
		writeStatus(w, http.StatusOK, map[string]any{"status": "ready"})
	}
}

// writeStatus answers a probe with its JSON status.
func writeStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
