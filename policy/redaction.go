package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// validIBAN checks the ISO 13616 mod-97 checksum.
func validIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	rearranged := s[4:] + s[:4]
	rem := 0
	for _, r := range rearranged {
		var v int
		switch {
		case r >= '0' && r <= '9':
			v = int(r - '0')
			rem = (rem*10 + v) % 97
			continue
		case r >= 'A' && r <= 'Z':
			v = int(r-'A') + 10
		default:
			return false
		}
		rem = (rem*100 + v) % 97
	}
	return rem == 1
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
	actions := map[string]Action{}
	for k, a := range base.Actions {
		actions[k] = a
	}
	for k, a := range over.Actions {
		actions[k] = a
	}
	disabled := map[string]bool{}
	for _, k := range append(append([]string{}, base.Disabled...), over.Disabled...) {
		disabled[k] = true
	}
	known := map[string]bool{}
	pr := &policyRules{actions: map[string]Action{}}
	for _, kind := range builtinKinds {
		known[kind] = true
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
		pr.actions[kind] = action
	}
	for k := range actions {
		if !known[k] {
			return nil, fmt.Errorf("actions: unknown built-in kind %q", k)
		}
	}
	for k := range disabled {
		if !known[k] {
			return nil, fmt.Errorf("disabled: unknown built-in kind %q", k)
		}
	}
	pr.actions[KindConfiguredSecret] = ActionMask
	for _, rc := range append(append([]RuleConfig{}, base.Rules...), over.Rules...) {
		if rc.Name == "" || known[rc.Name] || rc.Name == KindConfiguredSecret {
			return nil, fmt.Errorf("custom rule %q: the name must be set and not a built-in kind", rc.Name)
		}
		re, err := regexp.Compile(rc.Pattern)
		if err != nil {
			return nil, fmt.Errorf("custom rule %s: %w", rc.Name, err)
		}
		action := rc.Action
		if action == "" {
			action = ActionMask
		}
		if !validAction(action) {
			return nil, fmt.Errorf("custom rule %s: action %q: want mask, hash, drop or reject", rc.Name, action)
		}
		pr.custom = append(pr.custom, customRule{kind: rc.Name, re: re})
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

func (r *Redactor) rules(workspaceID string) *policyRules {
	if ws, ok := r.workspaces[workspaceID]; ok {
		return ws
	}
	return r.def
}

// findings are the values of text the policy acts on, in text order.
func (r *Redactor) findings(pr *policyRules, text string) []finding {
	candidates := r.engine.candidates(text, &pr.scan)
	kept := candidates[:0]
	for _, f := range candidates {
		if _, enabled := pr.actions[f.kind]; enabled {
			kept = append(kept, f)
		}
	}
	for _, c := range pr.custom {
		for _, m := range c.re.FindAllStringIndex(text, -1) {
			kept = append(kept, finding{start: m[0], end: m[1], kind: c.kind, priority: priorityCustom})
		}
	}
	return resolve(kept)
}

// Redact applies the workspace's policy to text, in one pass.
func (r *Redactor) Redact(workspaceID, text string) gateway.Redaction {
	out, spans := r.redactOnce(workspaceID, text)
	// What a pass rewrote can change what the text beside it looks like (a
	// number that overlapped a longer finding stands alone now; a context
	// word left the window): the neighbourhoods of the rewrites are passed
	// again until nothing changes, so the output is a fixed point.
	for range maxRedactionPasses - 1 {
		if len(spans) == 0 {
			break
		}
		var b strings.Builder
		var next [][2]int
		last := 0
		for _, reg := range neighbourhoods(out.Text, spans) {
			part := out.Text[reg[0]:reg[1]]
			again, inner := r.redactOnce(workspaceID, part)
			b.WriteString(out.Text[last:reg[0]])
			base := b.Len()
			b.WriteString(again.Text)
			last = reg[1]
			if again.Text == part {
				continue
			}
			for _, sp := range inner {
				next = append(next, [2]int{base + sp[0], base + sp[1]})
			}
			for kind, n := range again.Counts {
				out.Counts[kind] += n
			}
			for _, kind := range again.Rejected {
				if !slices.Contains(out.Rejected, kind) {
					out.Rejected = append(out.Rejected, kind)
				}
			}
		}
		if len(next) == 0 {
			break
		}
		b.WriteString(out.Text[last:])
		out.Text, spans = b.String(), next
	}
	return out
}

// maxRedactionPasses bounds the passes of Redact; each after the first
// scans only around what the one before rewrote.
const maxRedactionPasses = 4

// redactionContext is how far around a rewrite a further pass looks: past
// the longest context window of a detector.
const redactionContext = 128

// neighbourhoods are the regions around spans, widened to whitespace (so
// no word is cut) and merged where they meet.
func neighbourhoods(text string, spans [][2]int) [][2]int {
	var out [][2]int
	for _, sp := range spans {
		start, end := max(0, sp[0]-redactionContext), min(len(text), sp[1]+redactionContext)
		for start > 0 && !isSpace(text[start-1]) && sp[0]-start < 2*redactionContext {
			start--
		}
		for end < len(text) && !isSpace(text[end]) && end-sp[1] < 2*redactionContext {
			end++
		}
		if n := len(out); n > 0 && start <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], end)
			continue
		}
		out = append(out, [2]int{start, end})
	}
	return out
}

// redactOnce is one pass of Redact; spans are where its rewrites lie in
// its output.
func (r *Redactor) redactOnce(workspaceID, text string) (gateway.Redaction, [][2]int) {
	out := gateway.Redaction{Text: text}
	if text == "" {
		return out, nil
	}
	pr := r.rules(workspaceID)
	found := r.findings(pr, text)
	if len(found) == 0 {
		return out, nil
	}
	var spans [][2]int
	out.Counts = map[string]int{}
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
		if rep != text[f.start:f.end] {
			spans = append(spans, [2]int{b.Len(), b.Len() + len(rep)})
		}
		b.WriteString(rep)
		last = f.end
	}
	b.WriteString(text[last:])
	out.Text = b.String()
	return out, spans
}

// SecretKinds reports the credential, card and account-number kinds in
// text, whatever any policy says: ids must hold none of them. (Emails,
// phones and addresses are identities, and may be ids.)
func (r *Redactor) SecretKinds(text string) []string {
	var kinds []string
	for _, f := range r.findings(r.all, text) {
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
