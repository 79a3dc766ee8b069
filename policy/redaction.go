package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Action is what a redaction rule does with what it finds.
type Action string

// Actions.
const (
	// ActionMask replaces the value with [REDACTED:<kind>].
	ActionMask Action = "mask"
	// ActionHash replaces the value with [<kind>:<hash prefix>], so equal
	// values stay recognisable without being readable.
	ActionHash Action = "hash"
	// ActionDrop removes the value.
	ActionDrop Action = "drop"
	// ActionReject refuses the whole request; nothing is written.
	ActionReject Action = "reject"
)

// RulesVersion names the built-in rule set. It is recorded with every
// content hash, since better rules change what the redacted text — and so
// its hash — is (see the README on replays across a rule-set upgrade).
const RulesVersion = "2"

// BuiltinKinds lists the kinds of the built-in detectors.
func BuiltinKinds() []string { return append([]string(nil), builtinKinds...) }

// luhn reports whether digits pass the Luhn checksum.
func luhn(digits string) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// RuleConfig is a custom rule of the policy file.
type RuleConfig struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"`
	Action  Action `json:"action"`
}

// PolicyConfig is one policy: actions for built-in kinds (default mask),
// built-ins switched off, custom rules, and the region phone numbers
// without a country code are read in (ISO 3166 code, default US).
type PolicyConfig struct {
	Actions     map[string]Action `json:"actions"`
	Disabled    []string          `json:"disabled"`
	Rules       []RuleConfig      `json:"rules"`
	PhoneRegion string            `json:"phoneRegion"`
}

// PhoneRegionDefault is the region of numbers written without a country
// code, unless a policy names another.
const PhoneRegionDefault = "US"

// FileConfig is the redaction policy file: a default policy and per
// workspace policies, each applied over the default.
type FileConfig struct {
	Default    PolicyConfig            `json:"default"`
	Workspaces map[string]PolicyConfig `json:"workspaces"`
}

// policyRules is one compiled policy: the action of every enabled kind,
// the custom rules and how numbers are read.
type policyRules struct {
	actions map[string]Action
	custom  []customRule
	scan    scanConfig
}

// customRule is a rule of the policy file: a pattern run over the text.
type customRule struct {
	kind string
	re   *regexp.Regexp
}

// Redactor applies a workspace's redaction policy (gateway.Redactor).
type Redactor struct {
	engine     *engine
	all        *policyRules // every built-in kind, masked: for ids
	def        *policyRules
	workspaces map[string]*policyRules
}

var _ gateway.Redactor = (*Redactor)(nil)

// NewRedactor compiles a policy; the zero FileConfig masks every built-in
// kind.
func NewRedactor(cfg FileConfig) (*Redactor, error) {
	eng, err := newEngine(keywordDetectors, nil)
	if err != nil {
		return nil, fmt.Errorf("error compiling the detectors: %w", err)
	}
	def, err := compile(PolicyConfig{}, cfg.Default)
	if err != nil {
		return nil, fmt.Errorf("default policy: %w", err)
	}
	all, _ := compile(PolicyConfig{}, PolicyConfig{})
	r := &Redactor{engine: eng, all: all, def: def, workspaces: map[string]*policyRules{}}
	for ws, pc := range cfg.Workspaces {
		rules, err := compile(cfg.Default, pc)
		if err != nil {
			return nil, fmt.Errorf("policy of workspace %s: %w", ws, err)
		}
		r.workspaces[ws] = rules
	}
	return r, nil
}

// ProtectSecrets registers the gateway's own secrets (backend API keys) as
// exact values that are masked wherever they appear, whatever a policy
// says, so that none of them is ever stored or returned. Call it before the
// redactor is used.
func (r *Redactor) ProtectSecrets(values ...string) error {
	var literals []string
	for _, v := range values {
		if v = strings.TrimSpace(v); len(v) >= minProtectedSecret {
			literals = append(literals, v)
		}
	}
	eng, err := newEngine(keywordDetectors, literals)
	if err != nil {
		return fmt.Errorf("error compiling the protected secrets: %w", err)
	}
	r.engine = eng
	return nil
}

// minProtectedSecret is the shortest configured secret masked verbatim: a
// shorter one would mask ordinary words.
const minProtectedSecret = 6

// LoadRedactor reads a policy file; "" gives the built-in policy.
func LoadRedactor(path string) (*Redactor, error) {
	var cfg FileConfig
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("error reading the redaction policy: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("the redaction policy is not valid: %w", err)
		}
	}
	return NewRedactor(cfg)
}

func validAction(a Action) bool {
	return a == ActionMask || a == ActionHash || a == ActionDrop || a == ActionReject
}

// compile merges a policy over a base: actions and disabled kinds override,
// custom rules add up, the phone region of the policy wins over the base's.
func compile(base, over PolicyConfig) (*policyRules, error) {
	pr := &policyRules{}
	var err error
	if pr.actions, err = compileActions(base, over); err != nil {
		return nil, err
	}
	pr.actions[KindConfiguredSecret] = ActionMask
	for _, rc := range append(append([]RuleConfig{}, base.Rules...), over.Rules...) {
		rule, action, err := compileRule(rc)
		if err != nil {
			return nil, err
		}
		pr.custom = append(pr.custom, rule)
		pr.actions[rc.Name] = action
	}
	pr.scan.phoneRegion = PhoneRegionDefault
	for _, region := range []string{base.PhoneRegion, over.PhoneRegion} {
		if region == "" {
			continue
		}
		region = strings.ToUpper(region)
		if !phonenumbers.GetSupportedRegions()[region] {
			return nil, fmt.Errorf("phoneRegion %q: not a region libphonenumber knows (an ISO 3166 code such as GB)", region)
		}
		pr.scan.phoneRegion = region
	}
	return pr, nil
}

// compileActions merges the actions and disabled kinds of a policy over
// its base: the action of every enabled built-in kind.
func compileActions(base, over PolicyConfig) (map[string]Action, error) {
	actions := map[string]Action{}
	maps.Copy(actions, base.Actions)
	maps.Copy(actions, over.Actions)
	disabled := map[string]bool{}
	for _, k := range append(append([]string{}, base.Disabled...), over.Disabled...) {
		disabled[k] = true
	}
	for k := range actions {
		if !slices.Contains(builtinKinds, k) {
			return nil, fmt.Errorf("actions: unknown built-in kind %q", k)
		}
	}
	for k := range disabled {
		if !slices.Contains(builtinKinds, k) {
			return nil, fmt.Errorf("disabled: unknown built-in kind %q", k)
		}
	}
	out := map[string]Action{}
	for _, kind := range builtinKinds {
		if disabled[kind] {
			continue
		}
		action := ActionMask
		if a, ok := actions[kind]; ok {
			action = a
		}
		if !validAction(action) {
			return nil, fmt.Errorf("action %q of %s: want mask, hash, drop or reject", action, kind)
		}
		out[kind] = action
	}
	return out, nil
}

// compileRule compiles a custom rule; its name stands in its markers.
func compileRule(rc RuleConfig) (customRule, Action, error) {
	if rc.Name == "" || slices.Contains(builtinKinds, rc.Name) || rc.Name == KindConfiguredSecret {
		return customRule{}, "", fmt.Errorf("custom rule %q: the name must be set and not a built-in kind", rc.Name)
	}
	if !validMarkerName(rc.Name) {
		return customRule{}, "", fmt.Errorf("custom rule %q: the name must be at most %d bytes without [ ] : or line breaks (it stands in the rule's markers)", rc.Name, maxMarkerName)
	}
	re, err := regexp.Compile(rc.Pattern)
	if err != nil {
		return customRule{}, "", fmt.Errorf("custom rule %s: %w", rc.Name, err)
	}
	action := rc.Action
	if action == "" {
		action = ActionMask
	}
	if !validAction(action) {
		return customRule{}, "", fmt.Errorf("custom rule %s: action %q: want mask, hash, drop or reject", rc.Name, action)
	}
	return customRule{kind: rc.Name, re: re}, action, nil
}

func (r *Redactor) rules(workspaceID string) *policyRules {
	if ws, ok := r.workspaces[workspaceID]; ok {
		return ws
	}
	return r.def
}

// findings are the values of text the policy acts on, in text order:
// those whose keyword or start lies in one of regions.
func (r *Redactor) findings(pr *policyRules, text string, regions []span) []finding {
	markers := findMarkers(text)
	candidates := r.engine.candidates(text, &pr.scan, markers, regions)
	kept := candidates[:0]
	for _, f := range candidates {
		if _, enabled := pr.actions[f.kind]; enabled {
			kept = append(kept, f)
		}
	}
	for _, c := range pr.custom {
		for _, m := range c.re.FindAllStringIndex(text, -1) {
			if f := (finding{start: m[0], end: m[1], kind: c.kind, priority: priorityCustom}); overlapsAny(f, regions) {
				kept = append(kept, f)
			}
		}
	}
	// What an earlier redaction left is not found again: markers are cut
	// out of every finding, custom rules' included.
	return resolve(outsideMarkers(kept, markers))
}

// overlapsAny reports whether f overlaps one of regions (an empty match
// counts where it stands).
func overlapsAny(f finding, regions []span) bool {
	for _, reg := range regions {
		if f.start < reg.end && reg.start < max(f.end, f.start+1) {
			return true
		}
	}
	return false
}

// Redact applies the workspace's policy to text.
//
// What a pass rewrote can change what the text beside it looks like (a
// number that overlapped a longer finding stands alone now; a context word
// left the window; a dropped value leaves its key before the next word):
// after the pass over the whole text, the neighbourhoods of the rewrites
// are passed again — detectors still reading the whole text around them —
// until nothing changes, so the output is a fixed point and redacting it
// again changes nothing. This ends: every rewrite turns text that is no
// marker into a marker (which no detector finds) or into nothing, so each
// pass leaves less text that could be found; the bound is only a guard.
func (r *Redactor) Redact(workspaceID, text string) gateway.Redaction {
	pr := r.rules(workspaceID)
	out := gateway.Redaction{Text: text}
	regions := []span{{0, len(text)}}
	for pass := 0; len(regions) > 0 && pass <= len(text); pass++ {
		found := r.findings(pr, out.Text, regions)
		if len(found) == 0 {
			break
		}
		var rewrites []span
		out.Text, rewrites = rewrite(pr, out.Text, found, &out)
		regions = neighbourhoods(out.Text, rewrites)
	}
	return out
}

// rewrite applies the policy's actions to found, counts them in out, and
// returns the new text and where its rewrites lie in it.
func rewrite(pr *policyRules, text string, found []finding, out *gateway.Redaction) (string, []span) {
	if out.Counts == nil {
		out.Counts = map[string]int{}
	}
	var spans []span
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range found {
		action := pr.actions[f.kind]
		out.Counts[f.kind]++
		if action == ActionReject && !slices.Contains(out.Rejected, f.kind) {
			out.Rejected = append(out.Rejected, f.kind)
		}
		b.WriteString(text[last:f.start])
		rep := replacement(f.kind, action, text[f.start:f.end])
		spans = append(spans, span{b.Len(), b.Len() + len(rep)})
		b.WriteString(rep)
		last = f.end
	}
	b.WriteString(text[last:])
	return b.String(), spans
}

// redactionContext is how far around a rewrite a further pass looks for
// what the rewrite may have changed: past the longest context window
// before a value (a reference word, a prose key); command lines are read
// back to their command.
const redactionContext = 128

// neighbourhoods are the regions around spans — from the start of the
// line a command may stand on, to past redactionContext — widened to
// whitespace (so no word is cut), merged where they meet.
func neighbourhoods(text string, spans []span) []span {
	var out []span
	for _, sp := range spans {
		start, end := max(0, sp.start-redactionContext), min(len(text), sp.end+redactionContext)
		if lineStart := strings.LastIndexByte(text[max(0, sp.start-maxCommandLine):sp.start], '\n'); lineStart >= 0 {
			start = min(start, max(0, sp.start-maxCommandLine)+lineStart+1)
		} else {
			start = max(0, sp.start-maxCommandLine)
		}
		for start > 0 && !isSpace(text[start-1]) && sp.start-start < 2*maxCommandLine {
			start--
		}
		for end < len(text) && !isSpace(text[end]) && end-sp.end < 2*redactionContext {
			end++
		}
		if n := len(out); n > 0 && start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, end)
			continue
		}
		out = append(out, span{start, end})
	}
	return out
}

// SecretKinds reports the credential, card and account-number kinds in
// text, whatever any policy says: ids must hold none of them. (Emails,
// phones and addresses are identities, and may be ids.)
func (r *Redactor) SecretKinds(text string) []string {
	var kinds []string
	for _, f := range r.findings(r.all, text, []span{{0, len(text)}}) {
		if secretKinds[f.kind] && !slices.Contains(kinds, f.kind) {
			kinds = append(kinds, f.kind)
		}
	}
	sort.Strings(kinds)
	return kinds
}

// Version implements gateway.Redactor: the built-in rule set's version.
func (r *Redactor) Version() string { return RulesVersion }

func replacement(kind string, action Action, value string) string {
	switch action {
	case ActionDrop:
		return ""
	case ActionHash:
		sum := sha256.Sum256([]byte(kind + "\x00" + value))
		return "[" + kind + ":" + hex.EncodeToString(sum[:])[:12] + "]"
	default: // mask, and reject (the request is refused, but nothing leaks meanwhile)
		return "[REDACTED:" + kind + "]"
	}
}

// Kinds lists the kinds a policy applies to a workspace, sorted.
func (r *Redactor) Kinds(workspaceID string) []string {
	pr := r.rules(workspaceID)
	out := make([]string, 0, len(pr.actions))
	for k := range pr.actions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
