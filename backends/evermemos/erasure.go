package evermemos

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

var _ backendtype.SubjectEraser = (*Backend)(nil)

// Residue kinds (SubjectResidue).
const (
	ResidueEpisode    = "episode"
	ResidueProfile    = "profile"
	ResidueRawMessage = "raw_message"
	ResidueMemCell    = "memcell"
)

// Why EverMemOS cannot erase a kind (service/memcell_delete_service.py).
const (
	whyProfile    = "no EverMemOS API deletes a profile (the delete service has no profile repository, :65-105)"
	whyRawMessage = "EverMemOS keeps raw messages as source data; no API deletes or lists them once extracted (:243)"
	whyMemCell    = "a filter delete keeps MemCells, the extraction units that hold the messages (:243)"
)

// EraseSubject implements backendtype.SubjectEraser. A whole user: POST
// /api/v1/memories/delete by user_id and by the user's solo group
// (gen_solo_ + md5(user_id)[:12]): the group id reaches the group-level
// copy of every episode as well as the user's own, in MongoDB (soft) and
// in the search indexes (service/memcell_delete_service.py:145-258). A
// narrower scope, which EverMemOS's filters cannot express: the MemCell of
// every episode the gateway's refs name is deleted by id. What the API
// cannot delete (profiles, raw messages, MemCells) is left, and reported
// by SubjectResidue.
func (b *Backend) EraseSubject(ctx context.Context, req backendtype.EraseRequest) (backendtype.CommitResult, error) {
	user := b.userID(req.WorkspaceID, req.UserID)
	if req.Memories == nil {
		for _, filter := range []map[string]any{{"user_id": user}, {"group_id": soloGroupID(user)}} {
			if err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/delete", Body: filter}, nil); err != nil {
				return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
			}
		}
		return backendtype.CommitResult{Status: backendtype.ResultSuccess, Response: map[string]any{"outcome": string(backendtype.ErasureOutcomeSoftDeleted)}}, nil
	}
	memcells, err := b.memcellsOf(ctx, user, req.Memories)
	if err != nil {
		return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
	}
	for _, id := range memcells {
		if err := b.deleteMemCell(ctx, id); err != nil {
			return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
		}
	}
	outcome := backendtype.ErasureOutcomeSoftDeleted
	if len(memcells) == 0 {
		outcome = backendtype.ErasureOutcomeNothingToErase
	}
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, Response: map[string]any{"outcome": string(outcome), "erased": len(memcells)}}, nil
}

// memcellsOf are the MemCells of the named episodes: the id the commit kept
// on the ref, else the episode's parent_id as the server lists it (an
// episode no longer listed is gone already).
func (b *Backend) memcellsOf(ctx context.Context, user string, memories []backendtype.MemoryLocator) ([]string, error) {
	var parents map[string]string
	seen := map[string]bool{}
	var out []string
	for _, m := range memories {
		if m.RefType != backendtype.RefTypeEpisodicMemory || m.NativeID == "" {
			continue
		}
		id, _ := m.Produced[memcellKey].(string)
		if id == "" {
			if parents == nil {
				eps, err := b.episodes(ctx, map[string]any{"user_id": user})
				if err != nil {
					return nil, err
				}
				parents = map[string]string{}
				for _, e := range eps {
					parents[e.ID] = e.ParentID
				}
			}
			id = parents[m.NativeID]
		}
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// SubjectResidue implements backendtype.SubjectEraser. A whole user: the
// episodes still listed (the user's own and the group-level copies of its
// solo group), and what the API can never delete: the profile (listed),
// the raw messages the gateway wrote and the MemCells extracted from them
// (neither can be listed). A narrower scope: the named episodes still
// listed, and the named profile and raw messages.
func (b *Backend) SubjectResidue(ctx context.Context, req backendtype.EraseRequest) (backendtype.Residue, error) {
	user := b.userID(req.WorkspaceID, req.UserID)
	own, err := b.episodes(ctx, map[string]any{"user_id": user})
	if err != nil {
		return nil, err
	}
	profiles, err := b.profiles(ctx, user)
	if err != nil {
		return nil, err
	}
	episodes, profileCount := len(own), len(profiles.Profiles)
	rawMessages, memcells := req.Held[backendtype.RefTypeMessageMemory], req.Held[backendtype.RefTypeEpisodicMemory]
	if req.Memories == nil {
		group, err := b.episodes(ctx, map[string]any{"group_id": soloGroupID(user)})
		if err != nil {
			return nil, err
		}
		episodes += len(group)
	} else {
		live := map[string]bool{}
		for _, e := range own {
			live[e.ID] = true
		}
		episodes, rawMessages, memcells = 0, 0, 0
		named := map[backendtype.RefType]int{}
		for _, m := range req.Memories {
			named[m.RefType]++
			if m.RefType == backendtype.RefTypeEpisodicMemory && live[m.NativeID] {
				episodes++
			}
		}
		rawMessages = named[backendtype.RefTypeMessageMemory]
		profileCount = min(profileCount, named[backendtype.RefTypeProfile])
	}
	residue := backendtype.Residue{
		{Kind: ResidueEpisode, Count: episodes},
		{Kind: ResidueProfile, Count: profileCount, Unerasable: true, Why: whyProfile, RefTypes: []backendtype.RefType{backendtype.RefTypeProfile}},
	}
	if rawMessages > 0 {
		residue = append(residue, backendtype.ResidueKind{Kind: ResidueRawMessage, Count: rawMessages, Uncounted: true, Unerasable: true, Why: whyRawMessage,
			RefTypes: []backendtype.RefType{backendtype.RefTypeMessageMemory}})
	}
	if memcells > 0 {
		residue = append(residue, backendtype.ResidueKind{Kind: ResidueMemCell, Uncounted: true, Unerasable: true, Why: whyMemCell})
	}
	return residue, nil
}

var _ backendtype.SubjectExporter = (*Backend)(nil)

// ExportSubject implements backendtype.SubjectExporter: the user's episodes,
// the group-level episodes of its solo group that have no copy of the
// user's (a MemCell of assistant messages only), and its profile. Raw
// messages cannot be listed through the API.
func (b *Backend) ExportSubject(ctx context.Context, req backendtype.EraseRequest, emit func([]backendtype.ExportedMemory) error) error {
	user := b.userID(req.WorkspaceID, req.UserID)
	own, err := b.episodes(ctx, map[string]any{"user_id": user})
	if err != nil {
		return err
	}
	group, err := b.episodes(ctx, map[string]any{"group_id": soloGroupID(user)})
	if err != nil {
		return err
	}
	covered := map[string]bool{}
	out := make([]backendtype.ExportedMemory, 0, len(own)+len(group)+1)
	for _, e := range own {
		covered[e.ParentID] = true
		out = append(out, backendtype.ExportedMemory{NativeID: e.ID, MemoryType: backendtype.RefTypeEpisodicMemory, SessionID: e.SessionID, Text: e.text()})
	}
	for _, e := range group {
		if !covered[e.ParentID] {
			out = append(out, backendtype.ExportedMemory{NativeID: e.ID, MemoryType: backendtype.RefTypeEpisodicMemory, SessionID: e.SessionID, Text: e.text()})
		}
	}
	profiles, err := b.profiles(ctx, user)
	if err != nil {
		return err
	}
	for _, p := range profiles.Profiles {
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
// user's (one listing for all), the profile as its document; raw messages
// cannot be read back through the API.
func (b *Backend) ReadMemories(ctx context.Context, workspaceID, userID string, ms []backendtype.MemoryLocator) ([]backendtype.ReadMemory, error) {
	user := b.userID(workspaceID, userID)
	out := make([]backendtype.ReadMemory, len(ms))
	var episodes map[string]string
	for i, m := range ms {
		switch m.RefType {
		case backendtype.RefTypeEpisodicMemory:
			if episodes == nil {
				eps, err := b.episodes(ctx, map[string]any{"user_id": user})
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
			profiles, err := b.profiles(ctx, user)
			if err != nil {
				return nil, err
			}
			for _, p := range profiles.Profiles {
				if p.ID == m.NativeID {
					data, _ := json.Marshal(p.ProfileData)
					out[i] = backendtype.ReadMemory{Text: string(data), Found: true}
				}
			}
		}
	}
	return out, nil
}
