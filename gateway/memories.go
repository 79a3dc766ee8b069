package gateway

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// A user's own memories, read back with their text: refs say what was
// stored where; the text lives only in the backends, which are asked for it
// (MemoryReader) each time — it is never copied into the control plane.

// CallReadMemories is the backend call that reads memories' text.
const CallReadMemories = "read_memories"

// maxReadMemories bounds the refs one read asks the backends about.
const maxReadMemories = PageSizeMax

// TextUnavailable is why a memory's text is not given (MemoryText.Unavailable).
type TextUnavailable string

// Reasons a memory's text is not given.
const (
	// TextNotReadable: the backend offers no way to read this memory back
	// (EverMemOS's raw messages, a session as a whole).
	TextNotReadable TextUnavailable = "not_readable"
	// TextNotFound: the backend no longer holds the memory.
	TextNotFound TextUnavailable = "not_found"
	// TextBackendFailed: the backend did not answer in time or failed.
	TextBackendFailed TextUnavailable = "backend_failed"
)

// MemoryText is a ref's memory with its text, or why there is none.
type MemoryText struct {
	Ref         MemoryRef
	Text        *string
	Unavailable *TextUnavailable
}

// MemoryTexts reads the text of memories by their ref ids, from the
// backends that hold them, concurrently. The caller may read only its own
// user's memories' text (a key bound to that user), or be ADMIN of their
// namespace: the text is conversation content, which other readers of the
// control plane (dashboards) never see. Refs outside the caller's sight, or
// not its to read, are left out, as unknown ids are.
func (s *Service) MemoryTexts(ctx context.Context, refIDs []string) ([]MemoryText, error) {
	if len(refIDs) > maxReadMemories {
		return nil, NewInputError("ids", fmt.Sprintf("may name at most %d memories", maxReadMemories))
	}
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.readsContentHere(ctx, p); err != nil {
		return nil, err
	}
	refs, err := s.Reader(ctx).MemoryRefsByIDs(ctx, refIDs)
	if err != nil {
		return nil, err
	}
	var mine []MemoryRef
	for _, r := range refs {
		if r.Status != RefStatusSuccess || !mayReadContent(p, r) {
			continue
		}
		mine = append(mine, r)
	}
	return s.readTexts(ctx, mine), nil
}

// OwnMemoryRef is a memory ref whose content the caller may read (its own
// user's, or an ADMIN's of its namespace), in any status: forgetting a
// memory names it again after it is gone, and a retry must find it.
// found is false for any other ref, as for one that does not exist.
func (s *Service) OwnMemoryRef(ctx context.Context, refID string) (ref MemoryRef, found bool, err error) {
	p, err := s.principal(ctx)
	if err != nil {
		return MemoryRef{}, false, err
	}
	refs, err := s.Reader(ctx).MemoryRefsByIDs(ctx, []string{refID})
	if err != nil {
		return MemoryRef{}, false, err
	}
	if len(refs) == 0 || !mayReadContent(p, refs[0]) {
		return MemoryRef{}, false, nil
	}
	return refs[0], true, nil
}

// mayReadContent: the memory's own user, or an admin of its namespace.
func mayReadContent(p Principal, r MemoryRef) bool {
	scope := Scope{WorkspaceID: r.WorkspaceID, UserID: r.UserID, AgentID: r.AgentID, Namespace: r.Namespace}
	return (p.UserID != "" && p.UserID == r.UserID && p.May(AccessRead, scope)) || p.May(AccessAdmin, scope)
}

// MemoriesInput lists a user's own memories.
type MemoriesInput struct {
	WorkspaceID string `json:"workspaceId" validate:"required,max=128,ident"`
	UserID      string `json:"userId" validate:"required,max=128,ident"`
	AgentID     string `json:"agentId" validate:"max=128,ident"`
	Namespace   string `json:"namespace" validate:"max=512,namespace"`
	RefType     backendtype.RefType
}

// Memories lists the user's live memories, newest first, a page at a time,
// with their text: what an agent remembered of its user. The caller must
// be that user's key with READ there, or an ADMIN of the namespace.
func (s *Service) Memories(ctx context.Context, in MemoriesInput, page PageRequest) (Page[MemoryText], error) {
	in.Namespace = normalizeNamespace(in.Namespace)
	if err := s.validateStruct(in); err != nil {
		return Page[MemoryText]{}, err
	}
	scope := Scope{WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Namespace: in.Namespace}
	p, err := s.principal(ctx)
	if err != nil {
		return Page[MemoryText]{}, err
	}
	if err := s.readsContentHere(ctx, p); err != nil {
		return Page[MemoryText]{}, err
	}
	// A namespace named must be readable; without one, the list holds what
	// the key's grants reach (the reader's scope), each memory checked.
	if in.Namespace != "" && !p.May(AccessRead, scope) {
		return Page[MemoryText]{}, fmt.Errorf("%w: the key does not grant READ on this namespace", ErrForbidden)
	}
	if (p.UserID == "" || p.UserID != in.UserID) && !p.May(AccessAdmin, scope) {
		return Page[MemoryText]{}, fmt.Errorf("%w: memories with their text are read by their own user's key, or an admin's", ErrForbidden)
	}
	if p.AgentID != "" && in.AgentID != p.AgentID {
		return Page[MemoryText]{}, fmt.Errorf("%w: a key bound to an agent lists that agent's memories only (agentId)", ErrForbidden)
	}
	refs, err := s.Reader(ctx).ListMemoryRefs(ctx, RefFilter{
		WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Namespace: in.Namespace,
		RefType: in.RefType, Status: RefStatusSuccess,
	}, page)
	if err != nil {
		return Page[MemoryText]{}, err
	}
	var readable []MemoryRef
	for _, r := range refs.Items {
		if mayReadContent(p, r) {
			readable = append(readable, r)
		}
	}
	return Page[MemoryText]{Items: s.readTexts(ctx, readable), HasNextPage: refs.HasNextPage, HasPreviousPage: refs.HasPreviousPage}, nil
}

// readTexts asks each backend, concurrently and under its retrieval
// timeout, for the text of its memories; the answer keeps refs' order.
func (s *Service) readTexts(ctx context.Context, refs []MemoryRef) []MemoryText {
	out := make([]MemoryText, len(refs))
	byBackend := map[backendtype.Backend][]int{}
	for i, r := range refs {
		out[i].Ref = r
		byBackend[r.Backend] = append(byBackend[r.Backend], i)
	}
	var wg sync.WaitGroup
	for backend, idx := range byBackend {
		adapter, configured := s.Backend(backend)
		reader, ok := adapter.(backendtype.MemoryReader)
		if !configured || !ok {
			for _, i := range idx {
				out[i].Unavailable = new(TextNotReadable)
			}
			continue
		}
		// Per user: a backend reads one user's memories at a time.
		for _, group := range byUser(refs, idx) {
			wg.Go(func() {
				s.readGroup(ctx, reader, backend, refs, group, out)
			})
		}
	}
	wg.Wait()
	return out
}

func (s *Service) readGroup(ctx context.Context, reader backendtype.MemoryReader, backend backendtype.Backend, refs []MemoryRef, idx []int, out []MemoryText) {
	locators := make([]backendtype.MemoryLocator, len(idx))
	for j, i := range idx {
		r := refs[i]
		locators[j] = backendtype.MemoryLocator{RefType: r.RefType, SessionID: r.SessionID, NativeID: deref(r.NativeID), NativeURI: deref(r.NativeURI), Produced: ProducedMetadata(r)}
	}
	first := refs[idx[0]]
	read, err := callAdapter(ctx, s.core, adapterCall[[]backendtype.ReadMemory]{
		backend: backend, operation: CallReadMemories, timeout: s.retrieveTimeout(backend),
		call: func(ctx context.Context) ([]backendtype.ReadMemory, error) {
			return reader.ReadMemories(ctx, first.WorkspaceID, first.UserID, locators)
		},
	})
	for j, i := range idx {
		switch {
		case err != nil || len(read) != len(idx):
			out[i].Unavailable = new(TextBackendFailed)
		case !read[j].Found:
			out[i].Unavailable = new(TextNotFound)
		default:
			out[i].Text = optional(read[j].Text)
		}
	}
	if err != nil {
		s.logger.WarnContext(ctx, "gateway: error reading memories back", "backend", string(backend), "err", truncate(s.redactError(first.WorkspaceID, err.Error()), maxErrorMessageLength))
	}
}

// byUser splits indexes of refs into groups of one workspace and user, in
// order.
func byUser(refs []MemoryRef, idx []int) [][]int {
	var keys []string
	groups := map[string][]int{}
	for _, i := range idx {
		key := refs[i].WorkspaceID + "\x00" + refs[i].UserID
		if _, ok := groups[key]; !ok {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], i)
	}
	out := make([][]int, 0, len(keys))
	for _, k := range slices.Sorted(slices.Values(keys)) {
		out = append(out, groups[k])
	}
	return out
}
