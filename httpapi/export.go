package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// Exporter streams a subject's export, line by line (the service).
type Exporter interface {
	ExportSubject(ctx context.Context, in gateway.ExportInput, emit func(gateway.ExportLine) error) error
}

// exportFlushEvery is how many lines of an export are buffered before they
// are pushed to the client.
const exportFlushEvery = 200

// exportHandler serves GET /v1/export?workspaceId=…&userId=…[&agentId=…&namespace=…]:
// the subject's export as NDJSON, streamed as it is read. A refusal before
// the first line is a coded JSON error with its status; a failure after it
// is a last line {"type":"error"} (the status is sent already), and an
// export that ends without its "end" line is incomplete.
func exportHandler(exporter Exporter, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		in := gateway.ExportInput{
			WorkspaceID: q.Get("workspaceId"), UserID: q.Get("userId"), AgentID: q.Get("agentId"), Namespace: q.Get("namespace"),
		}
		// An export may take longer than the server's write timeout.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		flusher, _ := w.(http.Flusher)
		buf := bufio.NewWriterSize(w, 64<<10)
		enc := json.NewEncoder(buf)
		started, lines := false, 0
		emit := func(line gateway.ExportLine) error {
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusOK)
				started = true
			}
			if err := enc.Encode(line); err != nil {
				return err
			}
			if lines++; lines%exportFlushEvery == 0 {
				if err := buf.Flush(); err != nil {
					return err
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
			return nil
		}
		err := exporter.ExportSubject(r.Context(), in, emit)
		switch {
		case err == nil:
		case !started:
			status, refusal := exportRefusal(err)
			if status >= http.StatusInternalServerError {
				logger.ErrorContext(r.Context(), "memory-gateway: export failed", slog.String("err", err.Error()))
			}
			apierror.WriteHTTP(w, status, refusal)
			return
		default:
			logger.ErrorContext(r.Context(), "memory-gateway: export broke off", slog.String("err", err.Error()))
			_ = enc.Encode(map[string]any{"type": "error", "error": "the export broke off; it is incomplete"})
		}
		_ = buf.Flush()
	})
}

// exportRefusal is the status and coded error of an export refused before
// it started.
func exportRefusal(err error) (int, apierror.Error) {
	e := apierror.Classify(err, nil)
	status := http.StatusInternalServerError
	switch e.Code {
	case apierror.CodeBadUserInput:
		status = http.StatusBadRequest
	case apierror.CodeUnauthenticated:
		status = http.StatusUnauthorized
	case apierror.CodeForbidden:
		status = http.StatusForbidden
	case apierror.CodeNotFound:
		status = http.StatusNotFound
	case apierror.CodeRateLimited:
		status = http.StatusTooManyRequests
	case apierror.CodeUnavailable:
		status = http.StatusServiceUnavailable
	case apierror.CodeTimeout:
		status = http.StatusGatewayTimeout
	}
	return status, e
}
