package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// retentionDoc is RETENTION_POLICY's JSON:
//
//	{"default": {"controlPlane": "2160h", "memories": [
//	   {"namespace": "support/tier1", "memoryTypes": ["LONG_TERM_MEMORY"], "ttl": "720h"}]},
//	 "workspaces": {"acme": {"controlPlane": "720h"}}}
//
// A workspace listed under "workspaces" takes its rules instead of the
// default's, whole.
type retentionDoc struct {
	Default    retentionRulesDoc            `json:"default"`
	Workspaces map[string]retentionRulesDoc `json:"workspaces"`
}

type retentionRulesDoc struct {
	ControlPlane string         `json:"controlPlane"`
	Memories     []memoryTTLDoc `json:"memories"`
}

type memoryTTLDoc struct {
	Namespace   string   `json:"namespace"`
	MemoryTypes []string `json:"memoryTypes"`
	TTL         string   `json:"ttl"`
}

// knownRefTypes are the memory types a TTL may name, as the schema spells
// them.
var knownRefTypes = []backendtype.RefType{
	backendtype.RefTypeCase, backendtype.RefTypeDraftReview, backendtype.RefTypeEntity, backendtype.RefTypeEpisodicMemory,
	backendtype.RefTypeEvent, backendtype.RefTypeLongTermMemory, backendtype.RefTypeMessageMemory, backendtype.RefTypePreference,
	backendtype.RefTypeProfile, backendtype.RefTypeSessionArchive, backendtype.RefTypeSkill,
}

// ParseRetentionPolicy reads a retention policy; "" (no policy) keeps
// everything forever. Unknown fields, unparsable or non-positive durations
// and unknown memory types are errors naming the entry.
func ParseRetentionPolicy(raw []byte) (gateway.RetentionPolicy, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return gateway.RetentionPolicy{}, nil
	}
	var doc retentionDoc
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return gateway.RetentionPolicy{}, fmt.Errorf("retention policy: %w", err)
	}
	def, err := doc.Default.rules("default")
	if err != nil {
		return gateway.RetentionPolicy{}, err
	}
	p := gateway.RetentionPolicy{Default: def, Workspaces: map[string]gateway.RetentionRules{}}
	for ws, d := range doc.Workspaces {
		if ws == "" {
			return gateway.RetentionPolicy{}, errors.New("retention policy: a workspace name is empty")
		}
		r, err := d.rules("workspaces." + ws)
		if err != nil {
			return gateway.RetentionPolicy{}, err
		}
		p.Workspaces[ws] = r
	}
	return p, nil
}

func (d retentionRulesDoc) rules(at string) (gateway.RetentionRules, error) {
	var r gateway.RetentionRules
	if d.ControlPlane != "" {
		dur, err := positiveDuration(d.ControlPlane)
		if err != nil {
			return r, fmt.Errorf("retention policy: %s.controlPlane: %w", at, err)
		}
		r.ControlPlane = dur
	}
	for i, m := range d.Memories {
		where := fmt.Sprintf("%s.memories[%d]", at, i)
		ttl, err := positiveDuration(m.TTL)
		if err != nil {
			return r, fmt.Errorf("retention policy: %s.ttl: %w", where, err)
		}
		rule := gateway.MemoryTTL{Namespace: strings.Trim(m.Namespace, "/"), TTL: ttl}
		for _, t := range m.MemoryTypes {
			rt := backendtype.RefType(strings.ToLower(t))
			known := false
			for _, k := range knownRefTypes {
				known = known || k == rt
			}
			if !known {
				return r, fmt.Errorf("retention policy: %s.memoryTypes: %q is not a memory type", where, t)
			}
			rule.MemoryTypes = append(rule.MemoryTypes, rt)
		}
		r.Memories = append(r.Memories, rule)
	}
	return r, nil
}

func positiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like \"720h\")", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}
