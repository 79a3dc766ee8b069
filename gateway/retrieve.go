package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// rrfK is the reciprocal-rank-fusion constant (the customary 60): it damps
// the advantage of the very first ranks so agreement across backends counts.
const rrfK = 60

// RetrieveContextInput is a context query from an agent.
type RetrieveContextInput struct {
	WorkspaceID string                `json:"workspaceId" validate:"required,max=128,ident"`
	UserID      string                `json:"userId" validate:"required,max=128,ident"`
	AgentID     string                `json:"agentId" validate:"required,max=128,ident"`
	Namespace   string                `json:"namespace" validate:"max=512,namespace"`
	Query       string                `json:"query" validate:"required,max=4096,text"`
	SessionID   string                `json:"sessionId" validate:"max=128,ident"`
	Limit       int                   `json:"limit" validate:"gte=0,lte=100"`
	Backends    []backendtype.Backend `json:"backends" validate:"dive,backend"`
	TraceID     string                `json:"traceId" validate:"max=128,ident"`
}

// ContextItem is one merged retrieval result.
type ContextItem struct {
	Text          string
	Score         float64
	SourceBackend backendtype.Backend
	// AlsoFoundIn lists the other backends that returned the same memory.
	AlsoFoundIn []backendtype.Backend
	MemoryType  backendtype.RefType
	NativeID    *string
	NativeURI   *string
	RefID       *string
}

// BackendRetrieval is one backend's outcome in a retrieval.
type BackendRetrieval struct {
	Backend   backendtype.Backend
	Outcome   RetrievalOutcome
	LatencyMs int
	Error     *string
	ItemCount int
}

// RetrievalConflict reports the same memory returned differently by two
// backends.
type RetrievalConflict struct {
	Kind      string
	Backends  []backendtype.Backend
	NativeIDs []string
	Message   string
}

// RetrieveResult is the merged answer of a retrieval.
type RetrieveResult struct {
	Items     []ContextItem
	Backends  []BackendRetrieval
	Conflicts []RetrievalConflict
	TraceID   *string
}

type backendHits struct {
	backend backendtype.Backend
	items   []backendtype.RetrievedItem
	// refIDs[i] is the known ref of items[i], if any.
	refIDs []*string
}

// RetrieveContext queries every selected backend concurrently, each under its
// own timeout, and merges the answers: scores are normalised per backend,
// items are fused by reciprocal rank, duplicates removed and ordered stably.
func (s *Service) RetrieveContext(ctx context.Context, in RetrieveContextInput) (RetrieveResult, error) {
	in, err := s.validateRetrieval(in)
	if err != nil {
		return RetrieveResult{}, err
	}
	p, err := s.authorize(ctx, AccessRead, Scope{WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Namespace: in.Namespace})
	if err != nil {
		if in.Namespace == "" && errors.Is(err, ErrForbidden) {
			return RetrieveResult{}, NewInputError("namespace", "is required: this key reads only some namespaces")
		}
		return RetrieveResult{}, err
	}
	if err := s.readsContentHere(ctx, p); err != nil {
		return RetrieveResult{}, err
	}
	if err := s.admit(ctx, p, LimitRetrieve); err != nil {
		return RetrieveResult{}, err
	}
	// The query is text a user wrote: it is redacted before it leaves for
	// a backend, like a turn.
	query := s.redact(in.WorkspaceID, in.Query)
	if len(query.Rejected) > 0 {
		return RetrieveResult{}, rejection("query", query)
	}
	if strings.TrimSpace(query.Text) == "" {
		return RetrieveResult{}, NewInputError("query", "is empty once redacted")
	}
	fan, err := s.queryBackends(ctx, p, in, backendtype.RetrievalQuery{
		WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID,
		Namespace: in.Namespace, SessionID: in.SessionID, Query: query.Text, Limit: in.Limit,
	})
	if err != nil {
		return RetrieveResult{}, err
	}
	if fan.hidden {
		return erasedRetrieval(s.backends, in), nil
	}
	var retired []RetrievalConflict
	for i, sc := range fan.screened {
		retired = append(retired, sc.conflicts...)
		var stale []RetrievalConflict
		fan.hits[i], stale = dropStale(fan.hits[i], fan.retiredHashes)
		retired = append(retired, stale...)
		fan.outcomes[i].ItemCount = len(fan.hits[i].items)
	}
	items, conflicts := mergeHits(fan.hits, in.Limit)
	return RetrieveResult{Items: items, Backends: fan.outcomes, Conflicts: append(retired, conflicts...), TraceID: optional(in.TraceID)}, nil
}

// erasedRetrieval answers a retrieval an erasure under way hides: nothing,
// from any backend, even one still deleting.
func erasedRetrieval(backends []backendtype.BackendAdapter, in RetrieveContextInput) RetrieveResult {
	outcomes := make([]BackendRetrieval, len(backends))
	for i, b := range backends {
		outcomes[i] = BackendRetrieval{Backend: b.Name(), Outcome: RetrievalSkipped, Error: optional("an erasure of this user's memories is in progress")}
	}
	return RetrieveResult{Items: []ContextItem{}, Backends: outcomes, TraceID: optional(in.TraceID)}
}

// validateRetrieval normalises and checks the input alone.
func (s *Service) validateRetrieval(in RetrieveContextInput) (RetrieveContextInput, error) {
	in.Namespace = normalizeNamespace(in.Namespace)
	in.Query = strings.TrimSpace(in.Query)
	if err := s.validateStruct(in); err != nil {
		return in, err
	}
	if err := s.checkConfigured("backends", in.Backends); err != nil {
		return in, err
	}
	if in.Limit == 0 {
		in.Limit = backendtype.RetrieveLimitDefault
	}
	return in, s.checkIDs(
		idField{"workspaceId", in.WorkspaceID}, idField{"userId", in.UserID}, idField{"agentId", in.AgentID},
		idField{"namespace", in.Namespace}, idField{"sessionId", in.SessionID}, idField{"traceId", in.TraceID},
	)
}

// fanOut is what every backend answered, screened, with the user's retired
// facts.
type fanOut struct {
	outcomes      []BackendRetrieval
	hits          []backendHits
	screened      []screening
	retiredHashes map[string]bool
	// hidden: an erasure under way hides the user's memories; whatever the
	// backends answered is dropped.
	hidden bool
}

// queryBackends asks every selected backend concurrently, each under its
// own timeout, and screens each answer as it arrives; the user's retired
// facts, and what of the user's memories the key reaches, are read beside
// the fan-out.
func (s *Service) queryBackends(ctx context.Context, p Principal, in RetrieveContextInput, q backendtype.RetrievalQuery) (fanOut, error) {
	var selected map[backendtype.Backend]bool
	if in.Backends != nil {
		selected = make(map[backendtype.Backend]bool, len(in.Backends))
		for _, b := range in.Backends {
			selected[b] = true
		}
	}
	fan := fanOut{
		outcomes: make([]BackendRetrieval, len(s.backends)),
		hits:     make([]backendHits, len(s.backends)),
		screened: make([]screening, len(s.backends)),
	}
	var wg sync.WaitGroup
	var retiredErr, hiddenErr error
	wg.Go(func() { fan.retiredHashes, retiredErr = s.retiredHashes(ctx, in.WorkspaceID, in.UserID) })
	// Checked beside the backends' calls rather than before them, so that
	// it hides behind the slowest backend; an erasure under way then drops
	// every answer.
	wg.Go(func() {
		fan.hidden, hiddenErr = s.erasureHidesRetrieval(ctx, in.WorkspaceID, in.UserID, in.AgentID, in.Namespace)
	})
	var view retrievalView
	viewReady := make(chan struct{})
	go func() {
		defer close(viewReady)
		view = s.retrievalView(ctx, p, in)
	}()
	for i, adapter := range s.backends {
		fan.outcomes[i] = BackendRetrieval{Backend: adapter.Name(), Outcome: RetrievalSkipped}
		fan.hits[i].backend = adapter.Name()
		retriever, ok := adapter.(backendtype.Retriever)
		if !ok || (selected != nil && !selected[adapter.Name()]) {
			continue
		}
		wg.Go(func() {
			started := time.Now()
			timeout := s.retrieveTimeout(adapter.Name())
			items, err := s.callRetriever(ctx, adapter.Name(), retriever, q, timeout)
			fan.outcomes[i].LatencyMs = int(time.Since(started).Milliseconds())
			switch {
			case timedOut(err):
				fan.outcomes[i].Outcome = RetrievalTimeout
				fan.outcomes[i].Error = optional(fmt.Sprintf("no answer within %s", timeout))
			case err != nil:
				msg := truncate(s.redactError(in.WorkspaceID, err.Error()), maxErrorMessageLength)
				fan.outcomes[i].Outcome = RetrievalError
				fan.outcomes[i].Error = optional(msg)
				s.logger.WarnContext(ctx, "gateway: backend retrieval failed",
					slog.String("backend", string(adapter.Name())), slog.String("err", msg))
			default:
				fan.outcomes[i].Outcome = RetrievalOK
				// Screening runs here, beside the backend's own call, so
				// that it hides behind the slowest backend.
				<-viewReady
				fan.screened[i] = s.screenItems(ctx, in.WorkspaceID, p.ReadScope(), view, adapter.Name(), s.redactItems(ctx, in.WorkspaceID, items))
				fan.hits[i].items, fan.hits[i].refIDs = fan.screened[i].items, fan.screened[i].refIDs
			}
		})
	}
	wg.Wait()
	<-viewReady
	if view.err != nil {
		return fanOut{}, view.err
	}
	if hiddenErr != nil {
		return fanOut{}, hiddenErr
	}
	if retiredErr != nil {
		return fanOut{}, retiredErr
	}
	for _, sc := range fan.screened {
		if sc.err != nil {
			return fanOut{}, sc.err
		}
	}
	return fan, nil
}

func (s *Service) callRetriever(ctx context.Context, backend backendtype.Backend, r backendtype.Retriever, q backendtype.RetrievalQuery, timeout time.Duration) ([]backendtype.RetrievedItem, error) {
	return callAdapter(ctx, s.core, adapterCall[[]backendtype.RetrievedItem]{
		backend: backend, operation: CallRetrieve, timeout: timeout,
		call: func(ctx context.Context) ([]backendtype.RetrievedItem, error) { return r.Retrieve(ctx, q) },
	})
}

type fused struct {
	item      ContextItem
	key       string
	rrf       float64
	bestScore float64
	textHash  string
}

// mergeHits normalises scores per backend (divided by the backend's best
// score, so every backend's top hit is 1.0), fuses ranks by reciprocal-rank
// fusion, removes duplicates (same backend+native id, or same text across
// backends) and orders by fused rank, then score, backend and id.
func mergeHits(all []backendHits, limit int) ([]ContextItem, []RetrievalConflict) {
	byKey := map[string]*fused{}
	var order []*fused
	for _, h := range all {
		maxScore := 0.0
		for _, it := range h.items {
			maxScore = max(maxScore, it.Score)
		}
		for rank, it := range h.items {
			norm := 1.0 / float64(rank+1)
			if maxScore > 0 {
				norm = max(it.Score, 0) / maxScore
			}
			// The same text from any backend is one item: compared by a
			// hash of the text with case and spacing folded, never by a
			// backend's own ContentHash (an exact hash, for retirement).
			textHash := backendtype.ContentHash(strings.Join(strings.Fields(strings.ToLower(it.Text)), " "))
			nativeKey := string(h.backend) + "|" + it.NativeID + "|" + it.NativeURI
			f := byKey[nativeKey]
			if f == nil {
				f = byKey["text|"+textHash]
			}
			rrf := 1.0 / float64(rrfK+rank+1)
			if f != nil {
				f.rrf += rrf
				if f.item.SourceBackend != h.backend && !slices.Contains(f.item.AlsoFoundIn, h.backend) {
					f.item.AlsoFoundIn = append(f.item.AlsoFoundIn, h.backend)
				}
				if norm > f.bestScore {
					f.bestScore = norm
				}
				continue
			}
			f = &fused{
				key: nativeKey, rrf: rrf, bestScore: norm, textHash: textHash,
				item: ContextItem{
					Text: it.Text, SourceBackend: h.backend, MemoryType: it.MemoryType,
					NativeID: optional(it.NativeID), NativeURI: optional(it.NativeURI),
					RefID: refAt(h.refIDs, rank),
				},
			}
			byKey[nativeKey] = f
			byKey["text|"+textHash] = f
			order = append(order, f)
		}
	}
	slices.SortStableFunc(order, func(a, b *fused) int {
		if c := cmp.Compare(b.rrf, a.rrf); c != 0 {
			return c
		}
		if c := cmp.Compare(b.bestScore, a.bestScore); c != 0 {
			return c
		}
		if c := cmp.Compare(a.item.SourceBackend, b.item.SourceBackend); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	if len(order) > limit {
		order = order[:limit]
	}
	items := make([]ContextItem, len(order))
	for i, f := range order {
		f.item.Score = f.bestScore
		items[i] = f.item
	}
	return items, divergentContent(items)
}

// conflictSimilarity is the word overlap (Jaccard) from which two different
// texts from two backends are taken to be the same memory told differently.
const conflictSimilarity = 0.6

// divergentContent reports pairs of items from different backends that say
// nearly the same thing but not the same thing: the same memory, with
// different content in two backends (one corrected, the other not).
func divergentContent(items []ContextItem) []RetrievalConflict {
	words := make([]map[string]struct{}, len(items))
	for i, it := range items {
		words[i] = wordSet(it.Text)
	}
	conflicts := []RetrievalConflict{}
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			a, b := items[i], items[j]
			if a.SourceBackend == b.SourceBackend || jaccard(words[i], words[j]) < conflictSimilarity {
				continue
			}
			conflicts = append(conflicts, RetrievalConflict{
				Kind:      "divergent_content",
				Backends:  []backendtype.Backend{a.SourceBackend, b.SourceBackend},
				NativeIDs: []string{nativeKey(a), nativeKey(b)},
				Message:   "two backends hold different versions of what looks like the same memory",
			})
		}
	}
	return conflicts
}

func nativeKey(it ContextItem) string {
	if it.NativeID != nil {
		return *it.NativeID
	}
	return deref(it.NativeURI)
}

func wordSet(text string) map[string]struct{} {
	set := map[string]struct{}{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		set[w] = struct{}{}
	}
	return set
}

func jaccard(a, b map[string]struct{}) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	inter := 0
	for w := range a {
		if _, ok := b[w]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

func refAt(refIDs []*string, i int) *string {
	if i < len(refIDs) {
		return refIDs[i]
	}
	return nil
}

// Conflict kinds of memories a correction or a delete retired.
const (
	ConflictSuperseded = "superseded_memory"
	ConflictDeleted    = "deleted_memory"
	ConflictStale      = "stale_content"
)

// screening is one backend's answer after its refs were consulted.
type screening struct {
	items     []backendtype.RetrievedItem
	refIDs    []*string
	conflicts []RetrievalConflict
	err       error
}

// screenItems consults the refs of one backend's items (by native id or
// uri, all in one statement): it drops memories an applied correction
// superseded or a delete removed — reporting each as a conflict, since the
// backend should no longer hold them — and items still carrying the content
// a correction replaced in place; and it links the rest to their ref (the
// most recently updated live one the caller may see).
func (s *Service) screenItems(ctx context.Context, workspaceID string, scope ReadScope, view retrievalView, backend backendtype.Backend, items []backendtype.RetrievedItem) screening {
	if view.err != nil {
		return screening{err: view.err}
	}
	var ids, uris []string
	for _, it := range items {
		if it.NativeID != "" {
			ids = append(ids, it.NativeID)
		}
		if it.NativeURI != "" {
			uris = append(uris, it.NativeURI)
		}
	}
	out := screening{items: items, refIDs: make([]*string, len(items))}
	if len(ids) == 0 && len(uris) == 0 && !view.limited {
		return out
	}
	var refs []MemoryRef
	if len(ids) > 0 || len(uris) > 0 {
		var err error
		if refs, err = s.store.RefsByNative(ctx, workspaceID, backend, ids, uris); err != nil {
			out.err = fmt.Errorf("error linking retrieved items to refs: %w", err)
			return out
		}
	}
	withheld := map[string]int{}
	defer s.countWithheld(backend, withheld)
	// Newest first: a committed memory's ref before the ingest ref of the
	// same turn, a replacement before what it replaced.
	slices.SortFunc(refs, func(a, b MemoryRef) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	out.items, out.refIDs = out.items[:0:0], out.refIDs[:0:0]
	for _, it := range items {
		var live, retired []MemoryRef
		for _, r := range refs {
			if !sameMemory(it, r) {
				continue
			}
			if r.Status == RefStatusSuccess {
				live = append(live, r)
			} else {
				retired = append(retired, r)
			}
		}
		if reason, ok := view.withholds(it, live, retired); ok {
			withheld[reason]++
			continue
		}
		if kind, ok := retiredKind(it, live, retired); ok {
			out.conflicts = append(out.conflicts, RetrievalConflict{
				Kind: kind, Backends: []backendtype.Backend{backend}, NativeIDs: []string{nativeKeyOf(it)},
				Message: retiredMessage(kind),
			})
			continue
		}
		var refID *string
		for _, r := range visible(Reader{scope: scope}, live, refPlace) {
			refID = &r.ID
			break
		}
		out.items = append(out.items, it)
		out.refIDs = append(out.refIDs, refID)
	}
	return out
}

// retiredHashesMax bounds the retired facts one retrieval screens against.
const retiredHashesMax = 1000

func (s *Service) retiredHashes(ctx context.Context, workspaceID, userID string) (map[string]bool, error) {
	hashes, err := s.store.RetiredContentHashes(ctx, workspaceID, userID, retiredHashesMax)
	if err != nil {
		return nil, fmt.Errorf("error reading retired memories: %w", err)
	}
	set := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		set[h] = true
	}
	return set, nil
}

// dropStale removes items that still carry a fact a correction or delete
// retired — as their whole text or as one of its statements (a line, a
// sentence, a quoted string: how derived memories such as a profile list
// facts) — and reports each as a stale_content conflict.
func dropStale(h backendHits, retired map[string]bool) (backendHits, []RetrievalConflict) {
	if len(retired) == 0 {
		return h, nil
	}
	var conflicts []RetrievalConflict
	kept := backendHits{backend: h.backend}
	for i, it := range h.items {
		if holdsRetired(it, retired) {
			conflicts = append(conflicts, RetrievalConflict{
				Kind: ConflictStale, Backends: []backendtype.Backend{h.backend}, NativeIDs: []string{nativeKeyOf(it)},
				Message: retiredMessage(ConflictStale),
			})
			continue
		}
		kept.items = append(kept.items, it)
		kept.refIDs = append(kept.refIDs, refAt(h.refIDs, i))
	}
	return kept, conflicts
}

func holdsRetired(it backendtype.RetrievedItem, retired map[string]bool) bool {
	if it.ContentHash != "" && retired[it.ContentHash] {
		return true
	}
	for _, statement := range statements(it.Text) {
		if retired[backendtype.ContentHash(statement)] {
			return true
		}
	}
	return false
}

// statements splits a text into the pieces a fact may be stored as: the
// whole text, its lines, its quoted strings and its sentences, trimmed.
func statements(text string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(text)
	for _, line := range strings.Split(text, "\n") {
		add(line)
		parts := strings.Split(line, "\"")
		for i := 1; i < len(parts); i += 2 {
			add(parts[i])
		}
		for _, sentence := range strings.FieldsFunc(line, func(r rune) bool { return r == '.' || r == '!' || r == '?' || r == ';' }) {
			add(sentence)
		}
	}
	return out
}

func sameMemory(it backendtype.RetrievedItem, r MemoryRef) bool {
	return (it.NativeID != "" && r.NativeID != nil && it.NativeID == *r.NativeID) ||
		(it.NativeURI != "" && r.NativeURI != nil && it.NativeURI == *r.NativeURI)
}

// retiredKind says whether an item must not be returned: its memory has no
// live ref left (superseded or deleted), or it was corrected in place but
// the backend still returns the replaced content.
func retiredKind(it backendtype.RetrievedItem, live, retired []MemoryRef) (string, bool) {
	if len(retired) == 0 {
		return "", false
	}
	if len(live) == 0 {
		if retired[0].Status == RefStatusDeleted {
			if _, erased := retired[0].Metadata["erased_by"]; erased {
				return ConflictErased, true
			}
			return ConflictDeleted, true
		}
		return ConflictSuperseded, true
	}
	hash := it.ContentHash
	if hash == "" {
		hash = backendtype.ContentHash(strings.TrimSpace(it.Text))
	}
	for _, r := range live {
		if r.ContentHash != nil && *r.ContentHash == hash {
			return "", false
		}
	}
	for _, r := range retired {
		if r.ContentHash != nil && *r.ContentHash == hash {
			return ConflictStale, true
		}
	}
	return "", false
}

func retiredMessage(kind string) string {
	switch kind {
	case ConflictDeleted:
		return "the backend still returns a memory deleted by an applied delete request; it was left out"
	case ConflictErased:
		return "the backend still returns a memory an erasure deleted; it was left out"
	case ConflictStale:
		return "the backend still returns the content an applied correction replaced; it was left out"
	default:
		return "the backend still returns a memory superseded by an applied correction; it was left out"
	}
}

func nativeKeyOf(it backendtype.RetrievedItem) string {
	if it.NativeID != "" {
		return it.NativeID
	}
	return it.NativeURI
}

// Reasons a retrieved item is withheld from a key that does not reach all
// of the user's memories (label values of the operator metric).
const (
	// WithheldUserLevel: a profile or preference sums up the user across
	// every namespace and agent.
	WithheldUserLevel = "user_level"
	// WithheldNoRef: the gateway holds no ref of the memory, so it cannot
	// tell where it came from.
	WithheldNoRef = "no_ref"
	// WithheldOutOfScope: a ref of the memory lies outside the key's grants
	// or agent.
	WithheldOutOfScope = "out_of_scope"
)

// retrievalView is what of a user's memories a retrieval may return. A key
// whose grants (narrowed by the namespace the request names) cover every
// namespace the user wrote in, and that is not bound to an agent, reaches
// all of them (a key of the whole workspace reaches them whatever they
// are); any other key only memories whose every ref lies inside its
// grants and agent — backends do not know the gateway's namespaces, so the
// refs are what says where a memory came from.
type retrievalView struct {
	limited bool
	scope   ReadScope
	err     error
}

func (s *Service) retrievalView(ctx context.Context, p Principal, in RetrieveContextInput) retrievalView {
	prefixes := p.ReadScope().Namespaces // nil: the whole workspace
	if in.Namespace != "" {
		// Authorized already: a grant covers it.
		prefixes = []string{in.Namespace}
	}
	v := retrievalView{scope: ReadScope{
		Restricted: true, WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: p.AgentID, Namespaces: prefixes,
	}}
	if p.AgentID != "" {
		v.limited = true
		return v
	}
	if prefixes == nil {
		return v
	}
	written, err := s.store.UserNamespaces(ctx, in.WorkspaceID, in.UserID)
	if err != nil {
		v.err = fmt.Errorf("error reading the user's namespaces: %w", err)
		return v
	}
	// A user who never wrote through the gateway has nothing in the key's
	// namespaces: whatever a backend holds for them came from elsewhere.
	v.limited = len(written) == 0
	for _, ns := range written {
		if !v.scope.Allows(in.WorkspaceID, ns, in.UserID, "") {
			v.limited = true
			break
		}
	}
	return v
}

// withholds says whether an item must be left out for the view, and why.
func (v retrievalView) withholds(it backendtype.RetrievedItem, live, retired []MemoryRef) (string, bool) {
	if !v.limited {
		return "", false
	}
	if it.MemoryType.UserLevel() {
		return WithheldUserLevel, true
	}
	if len(live)+len(retired) == 0 {
		return WithheldNoRef, true
	}
	for _, refs := range [][]MemoryRef{live, retired} {
		for _, r := range refs {
			if !v.scope.Allows(refPlace(r)) {
				return WithheldOutOfScope, true
			}
		}
	}
	return "", false
}

func (s *Service) countWithheld(backend backendtype.Backend, withheld map[string]int) {
	o, ok := s.observer.(WithheldObserver)
	if !ok {
		return
	}
	for reason, n := range withheld {
		o.ItemsWithheld(backend, reason, n)
	}
}
