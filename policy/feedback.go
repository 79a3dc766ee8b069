package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// feedbackPolicyDoc is the JSON form of the feedback auto-accept policy:
//
//	{"default": ["HELPFUL", "NOT_HELPFUL"],
//	 "workspaces": {"acme": ["HELPFUL", "NOT_HELPFUL", "CORRECTION"]},
//	 "blindReview": {"default": false, "workspaces": {"acme": true}}}
//
// Types are the GraphQL FeedbackType names. A workspace listed replaces the
// default for that workspace; an empty list means everything is reviewed.
// blindReview says where reviewers decide without the texts.
type feedbackPolicyDoc struct {
	Default     *[]string           `json:"default"`
	Workspaces  map[string][]string `json:"workspaces"`
	BlindReview *blindReviewDoc     `json:"blindReview"`
}

type blindReviewDoc struct {
	Default    bool            `json:"default"`
	Workspaces map[string]bool `json:"workspaces"`
}

// LoadFeedbackPolicy reads the auto-accept policy from inline JSON or, when
// inline is empty, from a file; with neither it returns nil (the domain's
// default: HELPFUL and NOT_HELPFUL accepted, the rest reviewed).
func LoadFeedbackPolicy(inline, path string) (*gateway.FeedbackPolicy, error) {
	raw := []byte(inline)
	if inline == "" {
		if path == "" {
			return nil, nil
		}
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("error reading the feedback policy file: %w", err)
		}
	}
	var doc feedbackPolicyDoc
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("invalid feedback policy (want {\"default\": [...], \"workspaces\": {\"ws\": [...]}, \"blindReview\": {\"default\": false, \"workspaces\": {\"ws\": true}}}): %w", err)
	}
	p := gateway.DefaultFeedbackPolicy
	if doc.Default != nil {
		types, err := feedbackTypes("default", *doc.Default)
		if err != nil {
			return nil, err
		}
		p.Default = types
	}
	if len(doc.Workspaces) > 0 {
		p.Workspaces = make(map[string][]backendtype.FeedbackType, len(doc.Workspaces))
		for ws, names := range doc.Workspaces {
			types, err := feedbackTypes("workspaces."+ws, names)
			if err != nil {
				return nil, err
			}
			p.Workspaces[ws] = types
		}
	}
	if doc.BlindReview != nil {
		p.BlindReviewDefault = doc.BlindReview.Default
		p.BlindReviewWorkspaces = doc.BlindReview.Workspaces
	}
	return &p, nil
}

func feedbackTypes(where string, names []string) ([]backendtype.FeedbackType, error) {
	types := make([]backendtype.FeedbackType, 0, len(names))
	for _, n := range names {
		t := backendtype.FeedbackType(strings.ToLower(strings.TrimSpace(n)))
		switch t {
		case backendtype.FeedbackHelpful, backendtype.FeedbackNotHelpful, backendtype.FeedbackCorrection, backendtype.FeedbackDeleteRequest:
			types = append(types, t)
		default:
			return nil, fmt.Errorf("invalid feedback policy: %s: unknown feedback type %q (want HELPFUL, NOT_HELPFUL, CORRECTION or DELETE_REQUEST)", where, n)
		}
	}
	return types, nil
}
