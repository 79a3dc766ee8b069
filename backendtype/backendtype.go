// Package backendtype is the contract between the gateway and its memory
// backends: the vocabulary both speak (backend names, ref types, roles,
// feedback types, results) and the capability interfaces an adapter
// implements. Adapters (backends/*) import this package and nothing of the
// domain; the domain (gateway) consumes what they implement through it.
package backendtype

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Backend names a memory backend in its lowercase reference spelling, which is
// also the spelling used in identifiers and stored rows. The set is open: a
// backend is whatever adapter is configured under a name.
type Backend string

// The backends this project ships.
const (
	BackendEverMemOS  Backend = "evermemos"
	BackendLocal      Backend = "local"
	BackendOpenViking Backend = "openviking"
)

// MarshalGQL writes the backend as its GraphQL enum value: the name in
// capitals.
func (b Backend) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(strings.ToUpper(string(b))))
}

// UnmarshalGQL reads a GraphQL enum value (the schema has already checked
// that it is one of the enum's values).
func (b *Backend) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return errors.New("must be a backend name")
	}
	*b = Backend(strings.ToLower(s))
	return nil
}

// RefType is the kind of memory a ref points to, in its reference spelling.
type RefType string

// Known ref types. Backends may produce any of them; OpenViking categories map
// onto the closest one.
const (
	RefTypeCase           RefType = "case"
	RefTypeDraftReview    RefType = "draft_review"
	RefTypeEntity         RefType = "entity"
	RefTypeEpisodicMemory RefType = "episodic_memory"
	RefTypeEvent          RefType = "event"
	RefTypeLongTermMemory RefType = "long_term_memory"
	RefTypeMessageMemory  RefType = "message_memory"
	RefTypePreference     RefType = "preference"
	RefTypeProfile        RefType = "profile"
	RefTypeSessionArchive RefType = "session_archive"
	RefTypeSkill          RefType = "skill"
)

// UserLevel reports whether memories of this type sum up a user across
// sessions, namespaces and agents (a profile, preferences) rather than
// record what one session said.
func (t RefType) UserLevel() bool {
	return t == RefTypeProfile || t == RefTypePreference
}

// Role is the speaker of a conversation turn.
type Role string

// Turn roles.
const (
	RoleAssistant Role = "assistant"
	RoleSystem    Role = "system"
	RoleTool      Role = "tool"
	RoleUser      Role = "user"
)

// FeedbackType classifies feedback on a memory.
type FeedbackType string

// Feedback types.
const (
	FeedbackCorrection    FeedbackType = "correction"
	FeedbackDeleteRequest FeedbackType = "delete_request"
	FeedbackHelpful       FeedbackType = "helpful"
	FeedbackNotHelpful    FeedbackType = "not_helpful"
)

// Routed reports whether accepted feedback of this type changes the memory
// in its backend (and so becomes an outbox event).
func (t FeedbackType) Routed() bool {
	return t == FeedbackCorrection || t == FeedbackDeleteRequest
}

// Metadata is JSON-shaped data a backend attaches to a request or a
// result (what it said of a memory, progress it wants back); it never holds
// content.
type Metadata = map[string]any

// SessionScope is an (agent, namespace) pair a session's turns were written
// under.
type SessionScope struct {
	AgentID   string
	Namespace string
}

// ContentHash is the full hex sha256 of the (trimmed) content.
func ContentHash(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// Matching is what a backend's retrieval compares a query with, so agents
// can be told how to phrase one.
type Matching string

// How backends match a query.
const (
	// MatchWords: a memory is found when it contains the query's words
	// (full-text search). "What food does the user eat?" misses
	// "I'm vegetarian".
	MatchWords Matching = "words"
	// MatchMeaning: a memory is found when it is about the query (vector
	// or hybrid search), whatever its words.
	MatchMeaning Matching = "meaning"
)

// RecallMatcher is implemented by retrievers that say how they match a
// query.
type RecallMatcher interface {
	Matching() Matching
}
