package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Redactor applies a workspace's redaction policy to text.
type Redactor interface {
	Redact(workspaceID, text string) Redaction
	// SecretKinds reports the credential, card and account-number kinds in
	// text, whatever the policy: ids must hold none.
	SecretKinds(text string) []string
	// Version names the rule set: what redacted text (and so its content
	// hash) is depends on it.
	Version() string
}

// Redaction is redacted text and what was found in it, by kind. Rejected
// names kinds whose rule refuses the request.
type Redaction struct {
	Text     string
	Counts   map[string]int
	Rejected []string
}

// redact applies the policy (none configured: the text as it is).
func (s *core) redact(workspaceID, text string) Redaction {
	if s.redactor == nil || text == "" {
		return Redaction{Text: text}
	}
	return s.redactor.Redact(workspaceID, text)
}

// rejection is the input error of content a policy refuses.
func rejection(field string, r Redaction) error {
	kinds := append([]string(nil), r.Rejected...)
	sort.Strings(kinds)
	return NewInputError(field, fmt.Sprintf("contains %s, which this workspace's redaction policy rejects", strings.Join(kinds, ", ")))
}

// redactMetadata redacts client metadata, adding to counts: its keys, and
// its values at any depth — strings, and numbers too (a card number sent as
// a JSON number is still a card number: one that redaction changes is
// replaced by the redacted text).
func (s *core) redactMetadata(workspaceID string, md map[string]any, counts map[string]int) (map[string]any, []string) {
	if md == nil {
		return nil, nil
	}
	var rejected []string
	out := make(map[string]any, len(md))
	for k, v := range md {
		key := s.redact(workspaceID, k)
		addCounts(counts, key.Counts)
		rejected = append(rejected, key.Rejected...)
		value, rej := s.redactMetadataValue(workspaceID, v, counts)
		rejected = append(rejected, rej...)
		out[key.Text] = value
	}
	return out, rejected
}

func (s *core) redactMetadataValue(workspaceID string, v any, counts map[string]int) (any, []string) {
	switch t := v.(type) {
	case map[string]any:
		return s.redactMetadata(workspaceID, t, counts)
	case []any:
		var rejected []string
		list := make([]any, len(t))
		for i, item := range t {
			var rej []string
			list[i], rej = s.redactMetadataValue(workspaceID, item, counts)
			rejected = append(rejected, rej...)
		}
		return list, rejected
	case string:
		r := s.redact(workspaceID, t)
		addCounts(counts, r.Counts)
		return r.Text, r.Rejected
	}
	text, ok := numberText(v)
	if !ok {
		return v, nil
	}
	r := s.redact(workspaceID, text)
	if r.Text == text {
		return v, nil
	}
	addCounts(counts, r.Counts)
	return r.Text, r.Rejected
}

// numberText writes a JSON number as its digits (never in exponent form: a
// card number decoded as float64 is still all its digits).
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return n.String(), true
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(n), 'f', -1, 32), true
	case int:
		return strconv.Itoa(n), true
	case int64:
		return strconv.FormatInt(n, 10), true
	case int32:
		return strconv.FormatInt(int64(n), 10), true
	case uint64:
		return strconv.FormatUint(n, 10), true
	}
	return "", false
}

// redactError masks what a backend's (or any) error text may carry —
// content it echoed, a key it was sent — before the text is stored,
// logged or returned. Rejecting kinds are masked too: an error cannot be
// refused.
func (s *core) redactError(workspaceID, text string) string {
	return s.redact(workspaceID, text).Text
}

// rulesVersion names the redaction rule set in force ("" without one).
func (s *core) rulesVersion() string {
	if s.redactor == nil {
		return ""
	}
	return s.redactor.Version()
}

// idField is an id of a request, by its input name.
type idField struct{ name, value string }

// checkIDs refuses ids that hold a credential, a card or an account number:
// ids are not free text — they reach backends in URLs and are stored as
// they are. (Emails, phones and addresses are identities, and pass.)
func (s *Service) checkIDs(fields ...idField) error {
	if s.redactor == nil {
		return nil
	}
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		if kinds := s.redactor.SecretKinds(f.value); len(kinds) > 0 {
			return NewInputError(f.name, fmt.Sprintf("holds what looks like %s: ids are sent to backends and stored as they are, so they may not carry secrets", strings.Join(kinds, ", ")))
		}
	}
	return nil
}

func addCounts(into, from map[string]int) {
	for k, n := range from {
		into[k] += n
	}
}

// countsMetadata is the metadata form of redaction counts (never values).
func countsMetadata(counts map[string]int) Metadata {
	if len(counts) == 0 {
		return nil
	}
	m := Metadata{}
	for k, n := range counts {
		m[k] = n
	}
	return m
}

// redactItems applies the policy to retrieved text: masked in place, an
// item holding a rejected kind left out.
func (s *Service) redactItems(ctx context.Context, workspaceID string, items []backendtype.RetrievedItem) []backendtype.RetrievedItem {
	if s.redactor == nil {
		return items
	}
	out := items[:0]
	for _, it := range items {
		r := s.redact(workspaceID, it.Text)
		if len(r.Rejected) > 0 {
			continue
		}
		if r.Text != it.Text {
			it.Text = r.Text
			it.ContentHash = ""
		}
		out = append(out, it)
	}
	return out
}
