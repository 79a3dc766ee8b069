package everos

import (
	"context"
	"encoding/json"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Residue kinds (SubjectResidue).
const (
	ResidueEpisode    = "episode"
	ResidueProfile    = "profile"
	ResidueRawMessage = "raw_message"
)

// whyNoDelete is what every kind lacks.
const whyNoDelete = "EverOS 1.x has no delete API; remove the user's markdown files under the server's data directory (users/<sender_id>/ of the project)"

// EraseSubject implements backendtype.SubjectEraser: EverOS 1.x has no API that
// deletes anything of a user (docs/openapi.json@06e3f9ad#/paths: add, flush,
// search, get), so nothing is deleted and the outcome says so;
// SubjectResidue reports what remains.
func (b *Backend) EraseSubject(context.Context, backendtype.EraseRequest) (backendtype.CommitResult, error) {
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, Response: map[string]any{
		"outcome": string(backendtype.ErasureOutcomeUnsupported), "detail": "EverOS 1.x offers no API that deletes memories",
	}}, nil
}

// SubjectResidue implements backendtype.SubjectEraser: the user's episodes and
// profile as get lists them, and the messages the gateway wrote (which no
// API lists), none of which can be deleted. For a narrower scope, the named
// memories.
func (b *Backend) SubjectResidue(ctx context.Context, req backendtype.EraseRequest) (backendtype.Residue, error) {
	sender := b.sender(req.WorkspaceID, req.UserID)
	eps, err := b.episodes(ctx, req.WorkspaceID, sender, nil)
	if err != nil {
		return nil, err
	}
	profiles, err := b.profiles(ctx, req.WorkspaceID, sender)
	if err != nil {
		return nil, err
	}
	episodes, profileCount, messages := len(eps), len(profiles), req.Held[backendtype.RefTypeMessageMemory]
	if req.Memories != nil {
		live := map[string]bool{}
		for _, e := range eps {
			live[e.ID] = true
		}
		episodes, messages = 0, 0
		named := 0
		for _, m := range req.Memories {
			switch m.RefType {
			case backendtype.RefTypeMessageMemory:
				messages++
			case backendtype.RefTypeProfile:
				named++
			default:
				if live[m.NativeID] {
					episodes++
				}
			}
		}
		profileCount = min(profileCount, named)
	}
	residue := backendtype.Residue{
		{Kind: ResidueEpisode, Count: episodes, Unerasable: true, Why: whyNoDelete, RefTypes: []backendtype.RefType{backendtype.RefTypeEpisodicMemory}},
		{Kind: ResidueProfile, Count: profileCount, Unerasable: true, Why: whyNoDelete, RefTypes: []backendtype.RefType{backendtype.RefTypeProfile}},
	}
	if messages > 0 {
		residue = append(residue, backendtype.ResidueKind{Kind: ResidueRawMessage, Count: messages, Uncounted: true, Unerasable: true, Why: whyNoDelete,
			RefTypes: []backendtype.RefType{backendtype.RefTypeMessageMemory}})
	}
	return residue, nil
}

// ExportSubject implements backendtype.SubjectExporter: the user's episodes and
// profile.
func (b *Backend) ExportSubject(ctx context.Context, req backendtype.EraseRequest, emit func([]backendtype.ExportedMemory) error) error {
	sender := b.sender(req.WorkspaceID, req.UserID)
	eps, err := b.episodes(ctx, req.WorkspaceID, sender, nil)
	if err != nil {
		return err
	}
	profiles, err := b.profiles(ctx, req.WorkspaceID, sender)
	if err != nil {
		return err
	}
	out := make([]backendtype.ExportedMemory, 0, len(eps)+len(profiles))
	for _, e := range eps {
		session := ""
		if e.SessionID != nil {
			session = *e.SessionID
		}
		out = append(out, backendtype.ExportedMemory{NativeID: e.ID, MemoryType: backendtype.RefTypeEpisodicMemory, SessionID: session, Text: e.text()})
	}
	for _, p := range profiles {
		data, _ := json.Marshal(p.ProfileData)
		out = append(out, backendtype.ExportedMemory{NativeID: p.ID, MemoryType: backendtype.RefTypeProfile, Text: string(data)})
	}
	if len(out) == 0 {
		return nil
	}
	return emit(out)
}

var _ backendtype.MemoryReader = (*Backend)(nil)

// ReadMemories implements backendtype.MemoryReader: episodes by id among the
// user's (one listing for all), and the profile; messages are not read back
// (EverOS gives them no ids).
func (b *Backend) ReadMemories(ctx context.Context, workspaceID, userID string, ms []backendtype.MemoryLocator) ([]backendtype.ReadMemory, error) {
	sender := b.sender(workspaceID, userID)
	out := make([]backendtype.ReadMemory, len(ms))
	var episodes map[string]string
	for i, m := range ms {
		switch m.RefType {
		case backendtype.RefTypeEpisodicMemory:
			if episodes == nil {
				eps, err := b.episodes(ctx, workspaceID, sender, nil)
				if err != nil {
					return nil, err
				}
				episodes = make(map[string]string, len(eps))
				for _, e := range eps {
					episodes[e.ID] = e.text()
				}
			}
			out[i].Text, out[i].Found = episodes[m.NativeID]
		case backendtype.RefTypeProfile:
			profiles, err := b.profiles(ctx, workspaceID, sender)
			if err != nil {
				return nil, err
			}
			for _, p := range profiles {
				if p.ID == m.NativeID {
					out[i] = backendtype.ReadMemory{Text: profileText(p.ProfileData), Found: true}
				}
			}
		}
	}
	return out, nil
}
