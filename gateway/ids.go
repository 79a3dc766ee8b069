package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Identifier prefixes. Each id type has its own prefix, which is what lets
// node(id:) route an id to its type without a lookup.
const (
	PrefixAudit      = "audit_"
	PrefixCommit     = "gwc_"
	PrefixFeedback   = "fb_"
	PrefixGateway    = "gw_"
	PrefixOutbox     = "outbox_"
	PrefixProvenance = "prov_"
	PrefixRef        = "ref_"
	PrefixSession    = "ses_"
)

// hashHex returns the hex sha256 of s, truncated to n characters (0 = full).
func hashHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])
	if n > 0 && n < len(h) {
		return h[:n]
	}
	return h
}

// IdempotencyBasis is the seed every id of a turn derives from:
// the idempotency key if given, else the source event, else the turn.
func IdempotencyBasis(workspaceID, idempotencyKey, sourceType, sourceEventID, sessionID, turnID string) string {
	switch {
	case idempotencyKey != "":
		return fmt.Sprintf("idempotency_key:%s:%s", workspaceID, idempotencyKey)
	case sourceEventID != "":
		return fmt.Sprintf("source_event_id:%s:%s:%s", workspaceID, sourceType, sourceEventID)
	default:
		return fmt.Sprintf("turn:%s:%s:%s", workspaceID, sessionID, turnID)
	}
}

// GatewayID is "gw_" + sha256(basis)[:24].
func GatewayID(basis string) string {
	return PrefixGateway + hashHex(basis, 24)
}

// ProvenanceID is "prov_" + sha256(gateway_id + "|" + basis)[:24].
func ProvenanceID(gatewayID, basis string) string {
	return PrefixProvenance + hashHex(gatewayID+"|"+basis, 24)
}

// RefID is "ref_" + sha256("{gateway_id}|{backend}|{ref_type}" + native_key)[:24],
// where native_key is "|{native_id}|{native_uri}|{stable_key}" when any of the
// three is set and empty otherwise.
func RefID(gatewayID string, backend backendtype.Backend, refType backendtype.RefType, nativeID, nativeURI, stableKey string) string {
	seed := gatewayID + "|" + string(backend) + "|" + string(refType)
	if nativeID != "" || nativeURI != "" || stableKey != "" {
		seed += "|" + nativeID + "|" + nativeURI + "|" + stableKey
	}
	return PrefixRef + hashHex(seed, 24)
}

// CommitJobID is "gwc_" + sha256("commit:{workspace}:{session}:{basis}")[:24]
// with basis = idempotency key, else request id, else session id. The job id is
// also the gateway id of everything the commit produces.
func CommitJobID(workspaceID, sessionID, idempotencyKey, requestID string) string {
	basis := idempotencyKey
	if basis == "" {
		basis = requestID
	}
	if basis == "" {
		basis = sessionID
	}
	return PrefixCommit + hashHex(fmt.Sprintf("commit:%s:%s:%s", workspaceID, sessionID, basis), 24)
}

// OutboxEventID is "outbox_" + sha256("{gwc}|{backend}|{operation}")[:24].
func OutboxEventID(gatewayID string, backend backendtype.Backend, op Operation) string {
	return PrefixOutbox + hashHex(gatewayID+"|"+string(backend)+"|"+string(op), 24)
}

// CommitProvenanceID is the provenance of a ref produced by a commit: it names
// the outbox event and the native object.
func CommitProvenanceID(eventID string, refType backendtype.RefType, nativeID, nativeURI string) string {
	return PrefixProvenance + hashHex(eventID+"|"+string(refType)+"|"+nativeID+"|"+nativeURI, 24)
}

// FeedbackID is deterministic when the caller names its source event (so a
// replayed event is recognised) and random otherwise.
func FeedbackID(workspaceID, sourceType, sourceEventID string) string {
	if sourceEventID == "" {
		return PrefixFeedback + randomHex(12)
	}
	return PrefixFeedback + hashHex(fmt.Sprintf("feedback:%s:%s:%s", workspaceID, sourceType, sourceEventID), 24)
}

// AuditID derives an audit entry id from the parts that make the audited
// outcome unique, so a replayed operation does not add a second entry.
func AuditID(parts ...string) string {
	return PrefixAudit + hashHex(strings.Join(parts, "|"), 24)
}

// SessionNodeID encodes (workspace, session) as a global id.
func SessionNodeID(workspaceID, sessionID string) string {
	enc := base64.RawURLEncoding
	return PrefixSession + enc.EncodeToString([]byte(workspaceID)) + "." + enc.EncodeToString([]byte(sessionID))
}

// ParseSessionNodeID decodes an id made by SessionNodeID.
func ParseSessionNodeID(id string) (workspaceID, sessionID string, ok bool) {
	rest, found := strings.CutPrefix(id, PrefixSession)
	if !found {
		return "", "", false
	}
	ws, sess, found := strings.Cut(rest, ".")
	if !found {
		return "", "", false
	}
	enc := base64.RawURLEncoding
	wsb, err1 := enc.DecodeString(ws)
	sb, err2 := enc.DecodeString(sess)
	if err1 != nil || err2 != nil || len(wsb) == 0 || len(sb) == 0 {
		return "", "", false
	}
	return string(wsb), string(sb), true
}

func randomHex(nBytes int) string {
	b := make([]byte, nBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
