package backendtype

import (
	"context"
	"strconv"
	"strings"
)

// ErasureOutcome is what one backend did with an erasure.
type ErasureOutcome string

// Erasure outcomes.
const (
	ErasureOutcomePending        ErasureOutcome = "pending"
	ErasureOutcomeErased         ErasureOutcome = "erased"
	ErasureOutcomeSoftDeleted    ErasureOutcome = "soft_deleted"
	ErasureOutcomeNothingToErase ErasureOutcome = "nothing_to_erase"
	ErasureOutcomeFailed         ErasureOutcome = "failed"
	ErasureOutcomeSkipped        ErasureOutcome = "skipped"
	// ErasureOutcomePartial: the backend deleted what its API can delete and
	// keeps kinds of data it cannot (see the residue by kind).
	ErasureOutcomePartial ErasureOutcome = "partial"
	// ErasureOutcomeUnsupported: the backend's API deletes nothing at all;
	// what it holds of the subject stays (see the residue by kind).
	ErasureOutcomeUnsupported ErasureOutcome = "unsupported"
)

// SubjectEraser is a backend that can erase a subject. The contract:
//   - EraseSubject deletes everything the backend holds of the subject (for
//     a whole user), or the memories req.Memories names (for a narrower
//     scope, which a backend's own filters may not express); it is
//     idempotent on the event id, and erasing what is gone succeeds with
//     Response["outcome"] "nothing_to_erase". Response["outcome"] is
//     "erased", "soft_deleted" or "nothing_to_erase"; Response["unreached"]
//     counts named memories it could not delete, Response["detail"] says why.
//     "erased", "soft_deleted", "nothing_to_erase" or "unsupported" (the
//     backend's API deletes nothing).
//   - SubjectResidue lists or searches the backend for the subject (or the
//     named memories) and counts what it still holds, kind by kind,
//     including the kinds it can neither list nor delete (Unerasable): an
//     erasure then ends PARTIAL with them named, instead of being retried
//     forever or reported complete.
type SubjectEraser interface {
	EraseSubject(ctx context.Context, req EraseRequest) (CommitResult, error)
	SubjectResidue(ctx context.Context, req EraseRequest) (Residue, error)
}

// EraseRequest is one backend's share of an erasure.
type EraseRequest struct {
	EventID     string
	WorkspaceID string
	UserID      string
	AgentID     string
	Namespace   string
	// Memories are what the gateway's refs name in this backend, for a
	// narrower scope than the whole user; nil for a whole-user erasure.
	Memories []MemoryLocator
	Attempt  int
	// State is what the backend's last answer asked to get back (a remote
	// deletion task it follows), as for commits.
	State Metadata
	// Held counts, by ref type, the subject's refs in this backend that
	// named a memory when the erasure started: what the gateway knows it
	// wrote there, for kinds the backend can neither list nor delete.
	Held map[RefType]int
}

// MemoryLocator names one memory in a backend.
type MemoryLocator struct {
	RefType   RefType
	SessionID string
	NativeID  string
	NativeURI string
	// Produced is what the backend said of the memory when a commit
	// produced it (ProducedRef.Metadata): EverMemOS's MemCell id, say.
	Produced Metadata
}

// SessionWideEraser is a backend that keeps a conversation as one session
// with no way to delete one turn of it (OpenViking): a narrowed erasure
// deletes the subject's sessions whole, with whatever other agents or
// namespaces wrote there.
type SessionWideEraser interface {
	ErasesWholeSessions() bool
}

// Residue is what verification found of a subject in one backend, kind by
// kind. A backend reports every kind it knows remains, including kinds it
// cannot list or delete: what an API cannot erase is reported, never hidden.
type Residue []ResidueKind

// ResidueKind is one kind of data a backend still holds of the subject.
type ResidueKind struct {
	// Kind names the data in the backend's terms: "episode", "profile",
	// "raw_message", "memory_file", "session", …
	Kind string `json:"kind"`
	// Count is how many the backend still lists (a lower bound when
	// Uncounted).
	Count int `json:"count"`
	// Uncounted: the backend offers no way to list this kind; it is known
	// to remain (it was written and nothing can delete it).
	Uncounted bool `json:"uncounted,omitempty"`
	// Unerasable: the backend's API offers no way to delete this kind, so
	// trying again cannot help.
	Unerasable bool `json:"unerasable,omitempty"`
	// Why says, for an unerasable kind, what the backend lacks.
	Why string `json:"why,omitempty"`
	// RefTypes are the ref types whose memories this kind holds: after a
	// partial erasure their refs stay live (the memories are still there).
	RefTypes []RefType `json:"-"`
}

// Counted reports whether the backend could list this kind.
func (k ResidueKind) Counted() bool { return !k.Uncounted }

// Erasable reports whether the backend's API can delete this kind.
func (k ResidueKind) Erasable() bool { return !k.Unerasable }

// Total is how many items remain, as far as they can be counted.
func (r Residue) Total() int {
	n := 0
	for _, k := range r {
		n += k.Count
	}
	return n
}

// Erasable is how many remaining items a further attempt could delete.
func (r Residue) Erasable() int {
	n := 0
	for _, k := range r {
		if !k.Unerasable {
			n += k.Count
		}
	}
	return n
}

// Unerasable are the kinds that remain and that the backend cannot delete.
func (r Residue) Unerasable() Residue {
	var out Residue
	for _, k := range r {
		if k.Unerasable && (k.Count > 0 || k.Uncounted) {
			out = append(out, k)
		}
	}
	return out
}

// Clear reports whether nothing remains.
func (r Residue) Clear() bool {
	for _, k := range r {
		if k.Count > 0 || k.Uncounted {
			return false
		}
	}
	return true
}

// Describe names what remains, e.g. "profile: 1 (no API deletes profiles);
// raw_message: uncounted (…)".
func (r Residue) Describe() string {
	parts := make([]string, 0, len(r))
	for _, k := range r {
		count := strconv.Itoa(k.Count)
		if k.Uncounted {
			count = "not listable"
			if k.Count > 0 {
				count = "at least " + count
			}
		}
		part := k.Kind + ": " + count
		if k.Why != "" {
			part += " (" + k.Why + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}
