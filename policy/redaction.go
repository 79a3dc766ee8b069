package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"

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

// detector finds one kind of sensitive value. valid, when set, confirms a
// regexp match (a checksum); group, when set, is the submatch to redact.
type detector struct {
	kind  string
	re    *regexp.Regexp
	valid func(string) bool
	group int
}

// builtins run in this order: long, structured secrets first, so a token is
// not half-eaten by a looser pattern.
var builtins = []detector{
	{kind: "private_key", re: regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----`)},
	{kind: "jwt", re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`)},
	{kind: "aws_access_key", re: regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b`)},
	{kind: "github_token", re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b`)},
	{kind: "openai_key", re: regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`)},
	{kind: "slack_token", re: regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{kind: "password", re: regexp.MustCompile(`(?i)\b(?:password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?token|auth[_-]?token)\s*[:=]\s*("[^"\n]*"|'[^'\n]*'|[^\s,;]+)`), group: 1},
	{kind: "email", re: regexp.MustCompile(`(?i)\b[a-z0-9._%+-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}\b`)},
	{kind: "iban", re: regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b`), valid: validIBAN},
	{kind: "payment_card", re: regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`), valid: validCard},
	{kind: "ip_address", re: regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b|(?:\b[0-9A-Fa-f]{1,4}|:)?(?::[0-9A-Fa-f]{0,4}){2,7}\b`), valid: validIP},
	{kind: "phone", re: regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}\b|\+\d{8,15}\b`), valid: validPhone},
}

// BuiltinKinds lists the kinds of the built-in detectors.
func BuiltinKinds() []string {
	out := make([]string, len(builtins))
	for i, d := range builtins {
		out[i] = d.kind
	}
	return out
}

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

func validCard(s string) bool {
	d := onlyDigits(s)
	return len(d) >= 13 && len(d) <= 19 && luhn(d)
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

func validIP(s string) bool { return net.ParseIP(s) != nil }

// validPhone wants 9 to 15 digits and either a leading + or separators, so
// plain numbers (amounts, timestamps, ids) are left alone.
func validPhone(s string) bool {
	d := onlyDigits(s)
	if len(d) < 9 || len(d) > 15 || isoDate.MatchString(s) {
		return false
	}
	return strings.HasPrefix(s, "+") || strings.ContainsAny(s, " .-()")
}

// isoDate recognises dates, which look like phone numbers to the pattern.
var isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)

// RuleConfig is a custom rule of the policy file.
type RuleConfig struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"`
	Action  Action `json:"action"`
}

// PolicyConfig is one policy: actions for built-in kinds (default mask),
// built-ins switched off, and custom rules.
type PolicyConfig struct {
	Actions  map[string]Action `json:"actions"`
	Disabled []string          `json:"disabled"`
	Rules    []RuleConfig      `json:"rules"`
}

// FileConfig is the redaction policy file: a default policy and per
// workspace policies, each applied over the default.
type FileConfig struct {
	Default    PolicyConfig            `json:"default"`
	Workspaces map[string]PolicyConfig `json:"workspaces"`
}

type rule struct {
	detector
	action Action
}

// Redactor applies a workspace's redaction policy (gateway.Redactor).
type Redactor struct {
	def        []rule
	workspaces map[string][]rule
}

var _ gateway.Redactor = (*Redactor)(nil)

// NewRedactor compiles a policy; the zero FileConfig masks every built-in
// kind.
func NewRedactor(cfg FileConfig) (*Redactor, error) {
	def, err := compile(PolicyConfig{}, cfg.Default)
	if err != nil {
		return nil, fmt.Errorf("default policy: %w", err)
	}
	r := &Redactor{def: def, workspaces: map[string][]rule{}}
	for ws, pc := range cfg.Workspaces {
		rules, err := compile(cfg.Default, pc)
		if err != nil {
			return nil, fmt.Errorf("policy of workspace %s: %w", ws, err)
		}
		r.workspaces[ws] = rules
	}
	return r, nil
}

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
// custom rules add up.
func compile(base, over PolicyConfig) ([]rule, error) {
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
	var rules []rule
	for _, d := range builtins {
		known[d.kind] = true
		if disabled[d.kind] {
			continue
		}
		action := ActionMask
		if a, ok := actions[d.kind]; ok {
			action = a
		}
		if !validAction(action) {
			return nil, fmt.Errorf("action %q of %s: want mask, hash, drop or reject", action, d.kind)
		}
		rules = append(rules, rule{detector: d, action: action})
	}
	for k := range actions {
		if !known[k] {
			return nil, fmt.Errorf("actions: unknown built-in kind %q", k)
		}
	}
	for _, rc := range append(append([]RuleConfig{}, base.Rules...), over.Rules...) {
		if rc.Name == "" || known[rc.Name] {
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
		rules = append(rules, rule{detector: detector{kind: rc.Name, re: re}, action: action})
	}
	return rules, nil
}

// Redact applies the workspace's policy to text.
func (r *Redactor) Redact(workspaceID, text string) gateway.Redaction {
	rules := r.def
	if ws, ok := r.workspaces[workspaceID]; ok {
		rules = ws
	}
	out := gateway.Redaction{Text: text}
	// A candidate that fails its check (too many digits for a phone, say) is
	// skipped whole; a shorter value inside it can surface once its
	// neighbours are replaced. Passes repeat until nothing changes.
	for range maxPasses {
		before := out.Text
		for _, rl := range rules {
			out.Text = rl.apply(out.Text, &out)
		}
		if out.Text == before {
			break
		}
	}
	return out
}

// marker matches what redaction writes, so a later pass leaves it alone.
var marker = regexp.MustCompile(`^\[(?:REDACTED:[A-Za-z0-9_-]+|[A-Za-z0-9_-]+:[0-9a-f]{12})\]$`)

// maxPasses bounds the redaction passes over one text.
const maxPasses = 4

func (rl rule) apply(text string, out *gateway.Redaction) string {
	matches := rl.re.FindAllStringSubmatchIndex(text, -1)
	if len(matches) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		start, end := m[0], m[1]
		if rl.group > 0 && len(m) > 2*rl.group+1 && m[2*rl.group] >= 0 {
			start, end = m[2*rl.group], m[2*rl.group+1]
		}
		value := text[start:end]
		if (rl.valid != nil && !rl.valid(value)) || marker.MatchString(value) {
			continue
		}
		if out.Counts == nil {
			out.Counts = map[string]int{}
		}
		out.Counts[rl.kind]++
		if rl.action == ActionReject && !containsKind(out.Rejected, rl.kind) {
			out.Rejected = append(out.Rejected, rl.kind)
		}
		b.WriteString(text[last:start])
		b.WriteString(rl.replacement(value))
		last = end
	}
	b.WriteString(text[last:])
	return b.String()
}

func (rl rule) replacement(value string) string {
	switch rl.action {
	case ActionDrop:
		return ""
	case ActionHash:
		sum := sha256.Sum256([]byte(rl.kind + "\x00" + value))
		return "[" + rl.kind + ":" + hex.EncodeToString(sum[:])[:12] + "]"
	default: // mask, and reject (the request is refused, but nothing leaks meanwhile)
		return "[REDACTED:" + rl.kind + "]"
	}
}

func containsKind(kinds []string, k string) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Kinds lists the kinds a policy applies to a workspace, sorted.
func (r *Redactor) Kinds(workspaceID string) []string {
	rules := r.def
	if ws, ok := r.workspaces[workspaceID]; ok {
		rules = ws
	}
	out := make([]string, len(rules))
	for i, rl := range rules {
		out[i] = rl.kind
	}
	sort.Strings(out)
	return out
}
