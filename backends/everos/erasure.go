package everos

import (
	"context"
	"encoding/json"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Residue kinds (SubjectResidue).
const (
	ResidueEpisode    = "episode"
	ResidueProfile    = "profile"
	ResidueRawMessage = "raw_message"
)

// whyNoDelete is what every kind lacks.
const whyNoDelete = "EverOS 1.x has no delete API; remove the user's markdown files under the server's data directory (users/<sender_id>/ of the project)"

// EraseSubject implements gateway.SubjectEraser: EverOS 1.x has no API that
// deletes anything of a user (docs/openapi.json@06e3f9ad#/paths: add, flush,
// search, get), so nothing is deleted and the outcome says so;
// SubjectResidue reports what remains.
func (b *Backend) EraseSubject(context.Context, gateway.EraseRequest) (gateway.CommitResult, error) {
	return gateway.CommitResult{Status: gateway.ResultSuccess, Response: map[string]any{
		"outcome": string(gateway.ErasureOutcomeUnsupported), "detail": "EverOS 1.x offers no API that deletes memories",
	}}, nil
}

// SubjectResidue implements gateway.SubjectEraser: the user's episodes and
// profile as get lists them, and the messages the gateway wrote (which no
// API lists), none of which can be deleted. For a narrower scope, the named
// memories.
func (b *Backend) SubjectResidue(ctx context.Context, req gateway.EraseRequest) (gateway.Residue, error) {
	sender := b.sender(req.WorkspaceID, req.UserID)
	eps, err := b.episodes(ctx, req.WorkspaceID, sender, nil)
	if err != nil {
		return nil, err
	}
	profiles, err := b.profiles(ctx, req.WorkspaceID, sender)
	if err != nil {
		return nil, err
	}
	episodes, profileCount, messages := len(eps), len(profiles), req.Held[gateway.RefTypeMessageMemory]
	if req.Memories != nil {
		live := map[string]bool{}
		for _, e := range eps {
			live[e.ID] = true
		}
		episodes, messages = 0, 0
		named := 0
		for _, m := range req.Memories {
			switch m.RefType {
			case gateway.RefTypeMessageMemory:
				messages++
			case gateway.RefTypeProfile:
				named++
			default:
				if live[m.NativeID] {
					episodes++
				}
			}
		}
		profileCount = min(profileCount, named)
	}
	residue := gateway.Residue{
		{Kind: ResidueEpisode, Count: episodes, Unerasable: true, Why: whyNoDelete, RefTypes: []gateway.RefType{gateway.RefTypeEpisodicMemory}},
		{Kind: ResidueProfile, Count: profileCount, Unerasable: true, Why: whyNoDelete, RefTypes: []gateway.RefType{gateway.RefTypeProfile}},
	}
	if messages > 0 {
		residue = append(residue, gateway.ResidueKind{Kind: ResidueRawMessage, Count: messages, Uncounted: true, Unerasable: true, Why: whyNoDelete,
			RefTypes: []gateway.RefType{gateway.RefTypeMessageMemory}})
	}
	return residue, nil
}

// ExportSubject implements gateway.SubjectExporter: the user's episodes and
// profile.
func (b *Backend) ExportSubject(ctx context.Context, req gateway.EraseRequest, emit func([]gateway.ExportedMemory) error) error {
	sender := b.sender(req.WorkspaceID, req.UserID)
	eps, err := b.episodes(ctx, req.WorkspaceID, sender, nil)
	if err != nil {
		return err
	}
	profiles, err := b.profiles(ctx, req.WorkspaceID, sender)
	if err != nil {
		return err
	}
	out := make([]gateway.ExportedMemory, 0, len(eps)+len(profiles))
	for _, e := range eps {
		session := ""
		if e.SessionID != nil {
			session = *e.SessionID
		}
		out = append(out, gateway.ExportedMemory{NativeID: e.ID, MemoryType: gateway.RefTypeEpisodicMemory, SessionID: session, Text: e.text()})
	}
	for _, p := range profiles {
		data, _ := json.Marshal(p.ProfileData)
		out = append(out, gateway.ExportedMemory{NativeID: p.ID, MemoryType: gateway.RefTypeProfile, Text: string(data)})
	}
	if len(out) == 0 {
		return nil
	}
	return emit(out)
}

var _ gateway.MemoryReader = (*Backend)(nil)

// ReadMemories implements gateway.MemoryReader: episodes by id among the
// user's (one listing for all), and the profile; messages are not read back
// (EverOS gives them no ids).
func (b *Backend) ReadMemories(ctx context.Context, workspaceID, userID string, ms []gateway.MemoryLocator) ([]gateway.ReadMemory, error) {
	sender := b.sender(workspaceID, userID)
	out := make([]gateway.ReadMemory, len(ms))
	var episodes map[string]string
	for i, m := range ms {
		switch m.RefType {
		case gateway.RefTypeEpisodicMemory:
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
		case gateway.RefTypeProfile:
			profiles, err := b.profiles(ctx, workspaceID, sender)
			if err != nil {
				return nil, err
			}
			for _, p := range profiles {
				if p.ID == m.NativeID {
					out[i] = gateway.ReadMemory{Text: profileText(p.ProfileData), Found: true}
				}
			}
		}
	}
	return out, nil
}
