package evermemos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/gateway"
)

var _ gateway.SubjectEraser = (*Backend)(nil)

// EraseSubject implements gateway.SubjectEraser. A whole user: POST
// /api/v1/memories/delete with the user's workspace-scoped identity as
// filter — a soft delete in EverMemOS, reported as such. A narrower scope,
// which EverMemOS's filters (user, group, session, sender) cannot express:
// the episodes the gateway's refs name are deleted by id; raw messages and
// the profile cannot be deleted one by one, and are reported as unreached.
func (b *Backend) EraseSubject(ctx context.Context, req gateway.EraseRequest) (gateway.CommitResult, error) {
	if req.Memories == nil {
		err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/delete",
			Body: map[string]any{"user_id": b.ids.Of(req.WorkspaceID, req.UserID).ScopedUserID()}}, nil)
		if err != nil {
			return remote.CommitFailure(gateway.BackendEverMemOS, err), nil
		}
		return gateway.CommitResult{Status: gateway.ResultSuccess, Response: map[string]any{"outcome": string(gateway.ErasureOutcomeSoftDeleted)}}, nil
	}
	deleted, unreached := 0, 0
	for _, m := range req.Memories {
		if !deletableByID(m) {
			unreached++
			continue
		}
		err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/delete", Body: map[string]any{"memory_id": m.NativeID}}, nil)
		if err != nil {
			return remote.CommitFailure(gateway.BackendEverMemOS, err), nil
		}
		deleted++
	}
	res := map[string]any{"outcome": string(gateway.ErasureOutcomeSoftDeleted)}
	if deleted == 0 {
		res["outcome"] = string(gateway.ErasureOutcomeNothingToErase)
	}
	if unreached > 0 {
		res["unreached"] = unreached
		res["detail"] = fmt.Sprintf("%d raw message(s) or profile entries cannot be deleted one by one in EverMemOS; erase the whole user to reach them", unreached)
	}
	return gateway.CommitResult{Status: gateway.ResultSuccess, Response: res}, nil
}

// deletableByID: episodes are; raw messages (ingest refs) and the profile (an
// aggregate) are not.
func deletableByID(m gateway.MemoryLocator) bool {
	return m.NativeID != "" && m.RefType != gateway.RefTypeMessageMemory && m.RefType != gateway.RefTypeProfile
}

// SubjectResidue implements gateway.SubjectEraser: the user's episodes and
// profile still listed by POST /api/v1/memories/get; for a narrower scope,
// the named episodes still listed.
func (b *Backend) SubjectResidue(ctx context.Context, req gateway.EraseRequest) (int, error) {
	filters := map[string]any{"user_id": b.ids.Of(req.WorkspaceID, req.UserID).ScopedUserID()}
	named := map[string]bool{}
	for _, m := range req.Memories {
		if deletableByID(m) {
			named[m.NativeID] = true
		}
	}
	residue := 0
	for page := 1; page <= maxPages; page++ {
		var got getAnswer
		err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
			"memory_type": "episodic_memory", "filters": filters, "page": page, "page_size": PageSizeDefault,
		}}, &got)
		if err != nil {
			return 0, err
		}
		for _, e := range got.Episodes {
			if req.Memories == nil || named[e.ID] {
				residue++
			}
		}
		if len(got.Episodes) < PageSizeDefault {
			break
		}
	}
	if req.Memories != nil {
		return residue, nil
	}
	var profile getAnswer
	err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
		"memory_type": "profile", "filters": filters, "page": 1, "page_size": PageSizeDefault,
	}}, &profile)
	if err != nil {
		return 0, err
	}
	return residue + len(profile.Profiles), nil
}

var _ gateway.SubjectExporter = (*Backend)(nil)

// ExportSubject implements gateway.SubjectExporter: the user's episodes
// (POST /api/v1/memories/get, page by page) and profile.
func (b *Backend) ExportSubject(ctx context.Context, req gateway.EraseRequest, emit func([]gateway.ExportedMemory) error) error {
	filters := map[string]any{"user_id": b.ids.Of(req.WorkspaceID, req.UserID).ScopedUserID()}
	for page := 1; ; page++ {
		var got struct {
			Episodes []struct {
				ID        string `json:"id"`
				SessionID string `json:"session_id"`
				Summary   string `json:"summary"`
				Episode   string `json:"episode"`
			} `json:"episodes"`
		}
		err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
			"memory_type": "episodic_memory", "filters": filters, "page": page, "page_size": PageSizeDefault,
		}}, &got)
		if err != nil {
			return err
		}
		out := make([]gateway.ExportedMemory, 0, len(got.Episodes))
		for _, e := range got.Episodes {
			text := e.Episode
			if text == "" {
				text = e.Summary
			}
			out = append(out, gateway.ExportedMemory{NativeID: e.ID, MemoryType: gateway.RefTypeEpisodicMemory, SessionID: e.SessionID, Text: text})
		}
		if len(out) > 0 {
			if err := emit(out); err != nil {
				return err
			}
		}
		if len(got.Episodes) < PageSizeDefault {
			break
		}
	}
	var profile struct {
		Profiles []struct {
			ID          string         `json:"id"`
			ProfileData map[string]any `json:"profile_data"`
		} `json:"profiles"`
	}
	err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
		"memory_type": "profile", "filters": filters, "page": 1, "page_size": PageSizeDefault,
	}}, &profile)
	if err != nil {
		return err
	}
	out := make([]gateway.ExportedMemory, 0, len(profile.Profiles))
	for _, p := range profile.Profiles {
		data, _ := json.Marshal(p.ProfileData)
		out = append(out, gateway.ExportedMemory{NativeID: p.ID, MemoryType: gateway.RefTypeProfile, Text: string(data)})
	}
	if len(out) > 0 {
		return emit(out)
	}
	return nil
}
