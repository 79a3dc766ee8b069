package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Redactor applies a workspace's redaction policy to text.
type Redactor interface {
	Redact(workspaceID, text string) Redaction
}

// Redaction is redacted text and what was found in it, by kind. Rejected
// names kinds whose rule refuses the request.
type Redaction struct {
	Text     string
	Counts   map[string]int
	Rejected []string
}

// redact applies the policy (none configured: the text as it is).
func (s *Service) redact(workspaceID, text string) Redaction {
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

// redactMetadata redacts every string in client metadata, adding to counts.
func (s *Service) redactMetadata(workspaceID string, md map[string]any, counts map[string]int) (map[string]any, []string) {
	if md == nil {
		return nil, nil
	}
	var rejected []string
	out := make(map[string]any, len(md))
	for k, v := range md {
		switch t := v.(type) {
		case string:
			r := s.redact(workspaceID, t)
			addCounts(counts, r.Counts)
			rejected = append(rejected, r.Rejected...)
			out[k] = r.Text
		case map[string]any:
			nested, rej := s.redactMetadata(workspaceID, t, counts)
			rejected = append(rejected, rej...)
			out[k] = nested
		case []any:
			list := make([]any, len(t))
			for i, item := range t {
				if str, ok := item.(string); ok {
					r := s.redact(workspaceID, str)
					addCounts(counts, r.Counts)
					rejected = append(rejected, r.Rejected...)
					list[i] = r.Text
				} else {
					list[i] = item
				}
			}
			out[k] = list
		default:
			out[k] = v
		}
	}
	return out, rejected
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
func (s *Service) redactItems(ctx context.Context, workspaceID string, items []RetrievedItem) []RetrievedItem {
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
