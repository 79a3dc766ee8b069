package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Export: everything the gateway knows of a subject, streamed — the
// control-plane records, then what each backend holds — page by page, never
// gathered in memory.
const (
	// ExportFormatVersion names the layout of an export's lines.
	ExportFormatVersion = 1
	// AuditActionExport audits an export (counts only).
	AuditActionExport = "export_subject"
	// exportPageSize is how many refs one store read of an export takes.
	exportPageSize = 500
	// exportTimeout bounds one backend's part of an export.
	exportTimeout = 30 * time.Minute
)

// errExportPartEnded refuses lines a backend's part emits after the part
// was given up (its bound passed).
var errExportPartEnded = errors.New("the backend's part of the export ended")

// ExportInput names the subject of an export.
type ExportInput struct {
	WorkspaceID string `json:"workspaceId" validate:"required,max=128,ident"`
	UserID      string `json:"userId" validate:"required,max=128,ident"`
	AgentID     string `json:"agentId" validate:"max=128,ident"`
	Namespace   string `json:"namespace" validate:"max=512,namespace"`
}

// ExportLine is one line of an export. Exactly one of its parts is set,
// named by Type: "header", "ref", "memory", "backend" (one backend's
// outcome) or "end".
type ExportLine struct {
	Type    string            `json:"type"`
	Header  *ExportHeader     `json:"header,omitempty"`
	Ref     *MemoryRef        `json:"ref,omitempty"`
	Memory  *ExportedLine     `json:"memory,omitempty"`
	Backend *ExportBackendEnd `json:"backend,omitempty"`
	End     *ExportEnd        `json:"end,omitempty"`
}

// ExportHeader opens an export.
type ExportHeader struct {
	FormatVersion int       `json:"formatVersion"`
	WorkspaceID   string    `json:"workspaceId"`
	UserID        string    `json:"userId"`
	AgentID       string    `json:"agentId,omitempty"`
	Namespace     string    `json:"namespace,omitempty"`
	ExportedAt    time.Time `json:"exportedAt"`
}

// ExportedLine is a backend's memory in an export.
type ExportedLine struct {
	Backend    backendtype.Backend `json:"backend"`
	NativeID   string              `json:"nativeId,omitempty"`
	NativeURI  string              `json:"nativeUri,omitempty"`
	MemoryType backendtype.RefType `json:"memoryType,omitempty"`
	SessionID  string              `json:"sessionId,omitempty"`
	Text       string              `json:"text"`
}

// ExportBackendEnd says how one backend's part ended.
type ExportBackendEnd struct {
	Backend  backendtype.Backend `json:"backend"`
	Memories int                 `json:"memories"`
	// Error is set when the backend could not be read (its part is then
	// incomplete); Skipped when it cannot export.
	Error   string `json:"error,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
}

// ExportEnd closes a complete export.
type ExportEnd struct {
	Refs     int  `json:"refs"`
	Memories int  `json:"memories"`
	Complete bool `json:"complete"`
}

// ExportSubject streams the subject's export to emit: a header, one line
// per ref (control-plane fields), then per backend the memories it holds
// with their content, then an end line. The key must read all of it: an
// admin's or a dashboard's read grant over the scope, or the user's own key.
// The export is audited with counts only.
func (s *Service) ExportSubject(ctx context.Context, in ExportInput, emit func(ExportLine) error) error {
	in.Namespace = normalizeNamespace(in.Namespace)
	if err := s.validateStruct(in); err != nil {
		return err
	}
	p, err := s.authorize(ctx, AccessRead, Scope(in))
	if err != nil {
		return err
	}
	if err := s.readsContentHere(ctx, p); err != nil {
		return err
	}
	if p.AgentID != "" && p.AgentID != in.AgentID {
		return fmt.Errorf("%w: a key bound to an agent exports that agent's memories only (agentId)", ErrForbidden)
	}
	scope := ErasureScope(in)
	now := s.clock()
	if err := emit(ExportLine{Type: "header", Header: &ExportHeader{
		FormatVersion: ExportFormatVersion, WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID,
		Namespace: in.Namespace, ExportedAt: now,
	}}); err != nil {
		return err
	}
	end := ExportEnd{Complete: true}
	var after *Cursor
	for {
		refs, err := s.store.SubjectRefsPage(ctx, scope, after, exportPageSize)
		if err != nil {
			return fmt.Errorf("error reading the subject's refs: %w", err)
		}
		for i := range refs {
			if err := emit(ExportLine{Type: "ref", Ref: &refs[i]}); err != nil {
				return err
			}
		}
		end.Refs += len(refs)
		if len(refs) < exportPageSize {
			break
		}
		last := refs[len(refs)-1]
		after = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	for _, b := range s.backends {
		part := s.exportBackend(ctx, b, scope, emit)
		end.Memories += part.Memories
		if part.Error != "" {
			end.Complete = false
		}
		if err := emit(ExportLine{Type: "backend", Backend: &part}); err != nil {
			return err
		}
	}
	audit := auditEntry(AuditActionExport, []string{in.WorkspaceID, in.UserID, in.AgentID, in.Namespace, now.Format(time.RFC3339Nano)}, auditSubject{
		WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Principal: p.Name,
		TargetType: "subject", TargetID: in.UserID, Namespace: in.Namespace,
	}, Metadata{"refs": end.Refs, "memories": end.Memories, "complete": end.Complete}, now)
	stampVia(ctx, &audit)
	if err := s.store.InsertAudit(ctx, []AuditEntry{audit}); err != nil {
		return fmt.Errorf("error auditing the export: %w", err)
	}
	return emit(ExportLine{Type: "end", End: &end})
}

// exportBackend streams one backend's part. For a scope narrower than the
// user, a memory is kept only when a ref of the subject names it.
func (s *Service) exportBackend(ctx context.Context, b backendtype.BackendAdapter, scope ErasureScope, emit func(ExportLine) error) ExportBackendEnd {
	part := ExportBackendEnd{Backend: b.Name()}
	exporter, ok := b.(backendtype.SubjectExporter)
	if !ok {
		part.Skipped = true
		return part
	}
	req := backendtype.EraseRequest{WorkspaceID: scope.WorkspaceID, UserID: scope.UserID, AgentID: scope.AgentID, Namespace: scope.Namespace}
	// The adapter may outlive its bound (callAdapter stops waiting): what
	// it emits after that must never reach the stream.
	var mu sync.Mutex
	ended := false
	emitLine := func(line ExportLine) error {
		mu.Lock()
		defer mu.Unlock()
		if ended {
			return errExportPartEnded
		}
		return emit(line)
	}
	defer func() {
		mu.Lock()
		ended = true
		mu.Unlock()
	}()
	_, err := callAdapter(ctx, s.core, adapterCall[struct{}]{
		backend: b.Name(), operation: CallExportSubject, timeout: exportTimeout,
		call: func(ctx context.Context) (struct{}, error) {
			return struct{}{}, exporter.ExportSubject(ctx, req, func(page []backendtype.ExportedMemory) error {
				if scope.Narrow() {
					var err error
					if page, err = s.inScope(ctx, b.Name(), scope, page); err != nil {
						return err
					}
				}
				for _, m := range page {
					line := ExportedLine{Backend: b.Name(), NativeID: m.NativeID, NativeURI: m.NativeURI, MemoryType: m.MemoryType, SessionID: m.SessionID, Text: m.Text}
					if err := emitLine(ExportLine{Type: "memory", Memory: &line}); err != nil {
						return err
					}
					part.Memories++
				}
				return nil
			})
		},
	})
	if err != nil {
		part.Error = truncate(s.redactError(scope.WorkspaceID, err.Error()), maxErrorMessageLength)
	}
	return part
}

// inScope keeps the memories of a page that a ref of the subject names.
func (s *Service) inScope(ctx context.Context, backend backendtype.Backend, scope ErasureScope, page []backendtype.ExportedMemory) ([]backendtype.ExportedMemory, error) {
	var ids, uris []string
	for _, m := range page {
		if m.NativeID != "" {
			ids = append(ids, m.NativeID)
		}
		if m.NativeURI != "" {
			uris = append(uris, m.NativeURI)
		}
	}
	refs, err := s.store.RefsByNative(ctx, scope.WorkspaceID, backend, ids, uris)
	if err != nil {
		return nil, err
	}
	named := map[string]bool{}
	for _, r := range refs {
		if scope.Holds(r.UserID, r.AgentID, r.Namespace) {
			named["id:"+deref(r.NativeID)], named["uri:"+deref(r.NativeURI)] = true, true
		}
	}
	kept := page[:0]
	for _, m := range page {
		if (m.NativeID != "" && named["id:"+m.NativeID]) || (m.NativeURI != "" && named["uri:"+m.NativeURI]) {
			kept = append(kept, m)
		}
	}
	return kept, nil
}
