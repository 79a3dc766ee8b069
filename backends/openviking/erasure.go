package openviking

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/gateway"
)

var _ gateway.SubjectEraser = (*Backend)(nil)

// EraseSubject implements gateway.SubjectEraser. A whole user: the user's
// tree goes (DELETE /api/v1/fs?uri=viking://user/{user}/&recursive=true,
// memories and session histories alike), then every session the user still
// lists (DELETE /api/v1/sessions/{id}). A narrower scope (an agent, a
// namespace), which OpenViking's tree does not express: only what the
// gateway's refs name — the memory files and the sessions. A file or
// session already gone counts as erased.
func (b *Backend) EraseSubject(ctx context.Context, req gateway.EraseRequest) (gateway.CommitResult, error) {
	erased := 0
	if req.Memories == nil {
		n, err := b.deleteTree(ctx, req)
		if err != nil {
			return remote.CommitFailure(gateway.BackendOpenViking, err), nil
		}
		sessions, err := b.sessions(ctx, req)
		if err != nil {
			return remote.CommitFailure(gateway.BackendOpenViking, err), nil
		}
		for _, id := range sessions {
			if err := b.deleteSession(ctx, req, id); err != nil {
				return remote.CommitFailure(gateway.BackendOpenViking, err), nil
			}
		}
		erased = n + len(sessions)
	} else {
		for _, m := range req.Memories {
			var err error
			switch {
			case isMemoryURI(m.NativeURI):
				err = b.deleteFile(ctx, req, m.NativeURI)
			case m.SessionID != "":
				err = b.deleteSession(ctx, req, m.SessionID)
			default:
				continue
			}
			if err != nil {
				return remote.CommitFailure(gateway.BackendOpenViking, err), nil
			}
			erased++
		}
	}
	outcome := gateway.ErasureOutcomeErased
	if erased == 0 {
		outcome = gateway.ErasureOutcomeNothingToErase
	}
	return gateway.CommitResult{Status: gateway.ResultSuccess, Response: map[string]any{"outcome": string(outcome), "erased": erased}}, nil
}

// SubjectResidue implements gateway.SubjectEraser: what the user's memories
// directory still lists and the sessions still listed; for a narrower scope,
// the named memory files that can still be read and the named sessions
// still listed.
func (b *Backend) SubjectResidue(ctx context.Context, req gateway.EraseRequest) (int, error) {
	sessions, err := b.sessions(ctx, req)
	if err != nil {
		return 0, err
	}
	if req.Memories == nil {
		files, err := b.listMemories(ctx, req)
		return files + len(sessions), err
	}
	listed := make(map[string]bool, len(sessions))
	for _, id := range sessions {
		listed[id] = true
	}
	residue := 0
	for _, m := range req.Memories {
		switch {
		case isMemoryURI(m.NativeURI):
			err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
				Method: http.MethodGet, Path: "/api/v1/content/read", Query: url.Values{"uri": {m.NativeURI}}, OmitErrorText: true,
			}, nil)
			if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
				continue
			}
			if err != nil {
				return 0, err
			}
			residue++
		case m.SessionID != "" && listed[m.SessionID]:
			residue++
			listed[m.SessionID] = false
		}
	}
	return residue, nil
}

// userRoot is the user's tree.
func (b *Backend) userRoot(req gateway.EraseRequest) string {
	return "viking://user/" + url.PathEscape(b.cfg.Identities.Of(req.WorkspaceID, req.UserID).User()) + "/"
}

// deleteTree removes the user's tree and says whether anything was there.
func (b *Backend) deleteTree(ctx context.Context, req gateway.EraseRequest) (int, error) {
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodDelete, Path: "/api/v1/fs",
		Query: url.Values{"uri": {b.userRoot(req)}, "recursive": {"true"}, "wait": {"true"}},
	}, nil)
	if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}

func (b *Backend) deleteFile(ctx context.Context, req gateway.EraseRequest, uri string) error {
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodDelete, Path: "/api/v1/fs",
		Query: url.Values{"uri": {uri}, "recursive": {"false"}, "wait": {"true"}},
	}, nil)
	if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return nil
	}
	return err
}

func (b *Backend) deleteSession(ctx context.Context, req gateway.EraseRequest, id string) error {
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{Method: http.MethodDelete, Path: sessionPath(id)}, nil)
	if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return nil
	}
	return err
}

// sessions lists the user's session ids (GET /api/v1/sessions).
func (b *Backend) sessions(ctx context.Context, req gateway.EraseRequest) ([]string, error) {
	var listed []struct {
		SessionID string `json:"session_id"`
	}
	if err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{Method: http.MethodGet, Path: "/api/v1/sessions"}, &listed); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(listed))
	for _, s := range listed {
		ids = append(ids, s.SessionID)
	}
	return ids, nil
}

// listMemories counts the files below the user's memories directory
// (GET /api/v1/fs/ls, recursive); a directory that is gone holds nothing.
func (b *Backend) listMemories(ctx context.Context, req gateway.EraseRequest) (int, error) {
	var entries []struct {
		URI   string `json:"uri"`
		IsDir bool   `json:"is_dir"`
	}
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodGet, Path: "/api/v1/fs/ls",
		Query: url.Values{"uri": {b.userRoot(req) + "memories/"}, "recursive": {"true"}},
	}, &entries)
	if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	files := 0
	for _, e := range entries {
		if !e.IsDir && !strings.HasSuffix(e.URI, "/") {
			files++
		}
	}
	return files, nil
}

// exportBatch is how many memory files one page of an export reads.
const exportBatch = 50

var _ gateway.SubjectExporter = (*Backend)(nil)

// ExportSubject implements gateway.SubjectExporter: the files below the
// user's memories directory (GET /api/v1/fs/ls), each read with GET
// /api/v1/content/read, a page at a time.
func (b *Backend) ExportSubject(ctx context.Context, req gateway.EraseRequest, emit func([]gateway.ExportedMemory) error) error {
	var entries []struct {
		URI   string `json:"uri"`
		IsDir bool   `json:"is_dir"`
	}
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodGet, Path: "/api/v1/fs/ls",
		Query: url.Values{"uri": {b.userRoot(req) + "memories/"}, "recursive": {"true"}},
	}, &entries)
	if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	page := make([]gateway.ExportedMemory, 0, exportBatch)
	for _, e := range entries {
		if e.IsDir || !isMemoryURI(e.URI) {
			continue
		}
		var text string
		err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
			Method: http.MethodGet, Path: "/api/v1/content/read", Query: url.Values{"uri": {e.URI}}, OmitErrorText: true,
		}, &text)
		if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		page = append(page, gateway.ExportedMemory{NativeURI: e.URI, MemoryType: refTypeOf("", e.URI), Text: text})
		if len(page) == exportBatch {
			if err := emit(page); err != nil {
				return err
			}
			page = page[:0]
		}
	}
	if len(page) > 0 {
		return emit(page)
	}
	return nil
}
