// Command rulegen compiles rule sets in gitleaks' TOML format (gitleaks'
// default rules, and the project's own additions in the same format) into
// Go data for the redaction engine: per rule its keywords, regular
// expression, secret group, entropy threshold and allowlists, plus what the
// engine needs to run it only near a keyword hit (how far a match reaches,
// whether it starts at its keyword). It is run by `go generate` in the
// policy package and is not part of the server.
//
// Usage:
//
//	rulegen -out vendor_rules_gen.go -module 'gitleaks=github.com/zricethezav/gitleaks/v8@v8.30.1:config/gitleaks.toml' -source 'memory-gateway=rules/local.toml'
//
// A -module source is read from the Go module it ships in, downloaded
// through the module proxy like any dependency (and checked against
// go.sum's database): the rules are not copied into the repository, and the
// version is the module's. The module's LICENSE is written into the
// generated file, since that file holds a substantial part of the rules.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// ruleFile is the part of gitleaks' configuration format the engine uses.
// Unknown keys are an error, so that an upstream format change is noticed
// instead of silently dropped.
type ruleFile struct {
	Title      string      `toml:"title"`
	MinVersion string      `toml:"minVersion"`
	Allowlist  *allowlist  `toml:"allowlist"`
	Allowlists []allowlist `toml:"allowlists"`
	Rules      []rule      `toml:"rules"`
}

type rule struct {
	ID          string      `toml:"id"`
	Description string      `toml:"description"`
	Regex       string      `toml:"regex"`
	Path        string      `toml:"path"`
	SecretGroup int         `toml:"secretGroup"`
	Entropy     float64     `toml:"entropy"`
	Keywords    []string    `toml:"keywords"`
	Tags        []string    `toml:"tags"`
	Allowlists  []allowlist `toml:"allowlists"`
}

type allowlist struct {
	Description string   `toml:"description"`
	Condition   string   `toml:"condition"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Paths       []string `toml:"paths"`
	Commits     []string `toml:"commits"`
	StopWords   []string `toml:"stopwords"`
}

// skipReasons are rules left out on purpose, by id.
var skipReasons = map[string]string{
	"generic-api-key": "generic: any key/value pair whose key names a credential, which the engine's key/value detector covers",
	"private-key":     "the engine's own private_key detector finds the same blocks, and also keys longer than a window and truncated ones",
}

// kindPrefixes give a rule the kind of a built-in detector when it is one
// of the vendors the engine already names; every other rule is an api_key.
var kindPrefixes = []struct{ prefix, kind string }{
	{"aws-access-token", "KindAWSAccessKey"},
	{"github-", "KindGitHubToken"},
	{"slack-", "KindSlackToken"},
	{"openai-", "KindOpenAIKey"},
	{"jwt", "KindJWT"},
	{"private-key", "KindPrivateKey"},
	{"curl-auth-user", "KindPassword"},
	{"curl-auth-header", "KindAuthHeader"},
}

// commonKeywords hit ordinary text often enough (measured on the
// benchmark's text) that a rule keyed on them runs only where the keyword
// starts a token, even when its regular expression does not ask for a word
// boundary there.
var commonKeywords = map[string]bool{
	"sk": true, "ey": true, "s.": true, "pat.": true, "sat.": true, "fm1": true, "api-": true, "live_": true,
	"test_": true, "_pub": true, "sc_": true, "ext_": true, "intra": true, "sumo": true,
}

// maxTracked is the longest match length worth tracking: a rule whose
// matches can be longer is treated as unbounded (-1).
const maxTracked = 4096

type source struct {
	name, path string
	// shown is how the generated file names the source ("" : name (path));
	// a module's file is named by module and path, not by where the module
	// cache happens to be.
	shown string
}

type sourcesFlag []source

func (s *sourcesFlag) String() string { return fmt.Sprint(*s) }
func (s *sourcesFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return errors.New("want NAME=PATH")
	}
	*s = append(*s, source{name: name, path: path})
	return nil
}

// moduleFlag collects -module NAME=MODULE@VERSION:PATH.
type moduleFlag []string

func (m *moduleFlag) String() string { return fmt.Sprint(*m) }
func (m *moduleFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

// moduleSource resolves NAME=MODULE@VERSION:PATH to the file in the module
// as `go mod download` places it, named after the module version, with the
// module's license text.
func moduleSource(spec string) (source, string, error) {
	name, rest, ok := strings.Cut(spec, "=")
	modVersion, path, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || name == "" || path == "" || !strings.Contains(modVersion, "@") {
		return source{}, "", errors.New("want NAME=MODULE@VERSION:PATH")
	}
	raw, err := exec.Command("go", "mod", "download", "-json", modVersion).Output()
	if err != nil {
		return source{}, "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	var mod struct{ Dir, Version, Error string }
	if err := json.Unmarshal(raw, &mod); err != nil || mod.Error != "" || mod.Dir == "" {
		return source{}, "", fmt.Errorf("go mod download %s: %v %s", modVersion, err, mod.Error)
	}
	license, err := os.ReadFile(filepath.Join(mod.Dir, "LICENSE"))
	if err != nil {
		return source{}, "", fmt.Errorf("the license of %s: %w", modVersion, err)
	}
	module, _, _ := strings.Cut(modVersion, "@")
	shown := name + " " + mod.Version + " (Go module " + module + ", " + path + ")"
	return source{name: name, path: filepath.Join(mod.Dir, path), shown: shown}, string(license), nil
}

func main() {
	var (
		sources sourcesFlag
		modules moduleFlag
	)
	out := flag.String("out", "", "the Go file to write")
	pkg := flag.String("package", "policy", "its package")
	flag.Var(&sources, "source", "NAME=PATH of a rule file in gitleaks' format (repeatable)")
	flag.Var(&modules, "module", "NAME=MODULE@VERSION:PATH of a rule file in a Go module (repeatable; read before -source files)")
	flag.Parse()
	if *out == "" || len(sources)+len(modules) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var all []source
	var licenses []string
	for _, spec := range modules {
		src, license, err := moduleSource(spec)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rulegen:", err)
			os.Exit(1)
		}
		all = append(all, src)
		licenses = append(licenses, "The rules of "+src.shown+" are under this license:\n\n"+license)
	}
	all = append(all, sources...)
	src, err := generate(*pkg, all, licenses)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rulegen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "rulegen:", err)
		os.Exit(1)
	}
}

// genRule is one rule as the engine will run it.
type genRule struct {
	id, source, kind string
	keywords         []string
	regex            string
	secretGroup      int
	entropy          float64
	maxLen           int
	anchored         bool
	wordStart        bool
	tokenStart       bool
	nearby           bool
	required         []string
	alsoRequired     []string
	// claims are the literal prefixes (case as written) a token of the
	// rule starts with, when they are distinctive enough that a token
	// starting with one presents itself as the vendor's.
	claims []string
	// claimsFoldCase: the rule ignores case, and so do its claims (given
	// lower-cased).
	claimsFoldCase bool
	allowlists     []genAllowlist
}

type genAllowlist struct {
	target    string // "", "match" or "line"
	regexes   []genAllowRegex
	stopwords []string
}

type genAllowRegex struct {
	regex    string
	required []string
}

type skipped struct{ id, source, reason string }

func generate(pkg string, sources []source, licenses []string) ([]byte, error) {
	var (
		rules    []genRule
		skips    []skipped
		global   []genAllowlist
		extra    extraData
		names    []string
		seenIDs  = map[string]string{}
		examples = map[string]bool{}
	)
	for _, s := range sources {
		var f ruleFile
		md, err := toml.DecodeFile(s.path, &f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.path, err)
		}
		if u := md.Undecoded(); len(u) > 0 {
			return nil, fmt.Errorf("%s: keys this generator does not understand: %v", s.path, u)
		}
		shown := s.shown
		if shown == "" {
			shown = fmt.Sprintf("%s (%s)", s.name, s.path)
		}
		names = append(names, shown)
		lists := f.Allowlists
		if f.Allowlist != nil {
			lists = append([]allowlist{*f.Allowlist}, lists...)
		}
		for _, a := range lists {
			ga, keep, err := convertAllowlist(a)
			if err != nil {
				return nil, fmt.Errorf("%s: global allowlist: %w", s.path, err)
			}
			if keep {
				global = append(global, ga)
			}
		}
		for _, r := range f.Rules {
			if prev, dup := seenIDs[r.ID]; dup {
				return nil, fmt.Errorf("%s: rule %s is already defined in %s", s.path, r.ID, prev)
			}
			seenIDs[r.ID] = s.path
			for _, a := range r.Allowlists {
				for _, ex := range publishedExamplesOf(a) {
					examples[ex] = true
				}
			}
			if r.ID == genericRuleID {
				key, pair, err := genericKeyAllowlists(r)
				if err != nil {
					return nil, fmt.Errorf("%s: rule %s: %w", s.path, r.ID, err)
				}
				extra.genericKey = append(extra.genericKey, key...)
				extra.genericPair = append(extra.genericPair, pair...)
			}
			g, reason, err := convertRule(r)
			if err != nil {
				return nil, fmt.Errorf("%s: rule %s: %w", s.path, r.ID, err)
			}
			if reason != "" {
				skips = append(skips, skipped{r.ID, strings.Fields(s.name)[0], reason})
				continue
			}
			g.source = s.name
			rules = append(rules, g)
		}
	}
	for ex := range examples {
		extra.examples = append(extra.examples, ex)
	}
	sort.Strings(extra.examples)
	return render(pkg, names, licenses, rules, skips, global, extra)
}

// extraData is what the engine takes from rules beyond running them.
type extraData struct {
	// examples are values an allowlist names literally: credentials
	// published in documentation (Firebase's sample keys, NuGet's sample
	// password), no secret wherever they stand.
	examples []string
	// genericKey and genericPair are the allowlists of gitleaks' generic
	// rule that judge a key/value pair by its key, applied by the
	// engine's key/value detector: those that match within the key, and
	// those that read on into the value.
	genericKey, genericPair []genAllowlist
}

// genericRuleID is gitleaks' generic key/value rule: the engine's own
// key/value detector stands in for it, and applies the allowlists of it
// that judge the key (credentialsId, publicToken, csrf-token, a token
// file). Its stop words and its letters-only allowlist are left out: they
// judge the value, and would leave passwords such as "Capital2024!" or
// "correct-horse-battery" that a memory must not keep.
const genericRuleID = "generic-api-key"

// genericKeyAllowlists returns the generic rule's allowlists that run on
// the whole match (key, separator and value), split in two: those that
// can only match within a key (credentialsId, publicToken), which the
// engine runs once per key it classifies, and those that read on into the
// separator and value (io.jsonwebtoken:jjwt, api:jar:), which it runs on
// each pair. An expression that is an alternation is split into its
// alternatives, each with the literals one of which it needs.
func genericKeyAllowlists(r rule) (key, pair []genAllowlist, err error) {
	for _, a := range r.Allowlists {
		if a.RegexTarget != "match" {
			continue
		}
		a.StopWords = nil
		var inKey, across []string
		for _, re := range a.Regexes {
			alternatives, err := alternativesOf(re)
			if err != nil {
				return nil, nil, err
			}
			for _, alt := range alternatives {
				parsed, err := syntax.Parse(alt, syntax.Perl)
				if err != nil {
					return nil, nil, err
				}
				if keyCharsOnly(parsed) {
					inKey = append(inKey, alt)
				} else {
					across = append(across, alt)
				}
			}
		}
		for _, part := range []struct {
			regexes []string
			out     *[]genAllowlist
		}{{inKey, &key}, {across, &pair}} {
			if len(part.regexes) == 0 {
				continue
			}
			b := a
			b.Regexes = part.regexes
			ga, keep, err := convertAllowlist(b)
			if err != nil {
				return nil, nil, err
			}
			if keep {
				*part.out = append(*part.out, ga)
			}
		}
	}
	return key, pair, nil
}

// keyCharsOnly reports an expression that matches only characters a key
// is made of (letters, digits, _ - .): it cannot match across a key's end.
func keyCharsOnly(re *syntax.Regexp) bool {
	keyRune := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r >= 0x80 && unicode.IsLetter(r)
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if !keyRune(r) {
				return false
			}
		}
	case syntax.OpCharClass:
		for i := 0; i < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if !keyRune(r) {
					return false
				}
				if r == unicode.MaxRune {
					break
				}
			}
		}
	case syntax.OpCapture, syntax.OpConcat, syntax.OpAlternate, syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
	case syntax.OpEmptyMatch:
	default:
		return false
	}
	for _, sub := range re.Sub {
		if !keyCharsOnly(sub) {
			return false
		}
	}
	return true
}

// alternativesOf splits an expression whose top is an alternation into
// expressions of its alternatives (their flags kept), or returns it.
func alternativesOf(expr string) ([]string, error) {
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, err
	}
	if parsed.Op != syntax.OpAlternate {
		return []string{expr}, nil
	}
	out := make([]string, 0, len(parsed.Sub))
	for _, sub := range parsed.Sub {
		out = append(out, sub.String())
	}
	return out, nil
}

// Published examples: an allowlist regex that is a plain literal of at
// least minExampleLen bytes, without spaces, is a value documentation
// published (an expression, or a shorter literal, describes a shape or a
// word); so is a stop word that long holding letters and digits (a word
// list's entry is a word).
const minExampleLen = 8

func publishedExamplesOf(a allowlist) []string {
	var out []string
	for _, re := range a.Regexes {
		parsed, err := syntax.Parse(re, syntax.Perl)
		if err != nil || parsed.Op != syntax.OpLiteral || parsed.Flags&syntax.FoldCase != 0 {
			continue
		}
		lit := string(parsed.Rune)
		if len(lit) >= minExampleLen && !strings.ContainsAny(lit, " \t\n=,") {
			out = append(out, lit)
		}
	}
	for _, w := range a.StopWords {
		if len(w) >= 2*minExampleLen && strings.ContainsAny(w, "0123456789") && strings.IndexFunc(w, unicode.IsLetter) >= 0 {
			out = append(out, w)
		}
	}
	return out
}

// convertRule returns the rule as the engine runs it, or why it is skipped.
func convertRule(r rule) (genRule, string, error) {
	if reason, ok := skipReasons[r.ID]; ok {
		return genRule{}, reason, nil
	}
	if r.Regex == "" {
		return genRule{}, "matches file paths only; memory text has no path", nil
	}
	if r.Path != "" {
		return genRule{}, "applies only to files whose path matches " + strconv.Quote(r.Path) + "; memory text has no path", nil
	}
	if len(r.Keywords) == 0 {
		return genRule{}, "has no keywords, so it would have to run on every text", nil
	}
	re, err := regexp.Compile(r.Regex)
	if err != nil {
		return genRule{}, "its regular expression does not compile in Go's RE2: " + err.Error(), nil
	}
	if r.SecretGroup > re.NumSubexp() {
		return genRule{}, "", fmt.Errorf("secretGroup %d, but the expression has %d groups", r.SecretGroup, re.NumSubexp())
	}
	parsed, err := syntax.Parse(r.Regex, syntax.Perl)
	if err != nil {
		return genRule{}, "", err
	}
	parsed = parsed.Simplify()
	g := genRule{
		id:          r.ID,
		kind:        "KindAPIKey",
		regex:       r.Regex,
		secretGroup: r.SecretGroup,
		entropy:     r.Entropy,
		maxLen:      maxLength(parsed),
	}
	if g.maxLen > maxTracked {
		g.maxLen = -1
	}
	for _, kp := range kindPrefixes {
		if strings.HasPrefix(r.ID, kp.prefix) {
			g.kind = kp.kind
			break
		}
	}
	seen := map[string]bool{}
	for _, k := range r.Keywords {
		k = strings.ToLower(k)
		if !seen[k] {
			seen[k] = true
			g.keywords = append(g.keywords, k)
		}
		if commonKeywords[k] {
			g.tokenStart = true
		}
	}
	prefixes, _ := literalPrefixes(parsed)
	g.anchored = len(prefixes) > 0
	for _, p := range prefixes {
		if !startsWithAny(strings.ToLower(p), g.keywords) {
			g.anchored = false
		}
	}
	// A token's distinctive prefix claims it for the rule (see claims).
	if secret := secretPart(parsed, r.SecretGroup); g.anchored && !matchesSpace(secret) {
		secretPrefixes, _ := literalPrefixes(secret)
		g.claimsFoldCase = foldsCase(secret)
		for _, p := range secretPrefixes {
			if g.claimsFoldCase {
				p = strings.ToLower(p)
			}
			// Only a prefix that is one of the rule's keywords (or begins
			// with one) names the vendor, and not a common one: others are
			// shared by several ("sk-" of OpenAI's keys, keyed on a later
			// literal; "live_").
			if distinctivePrefix(p) && startsWithAny(strings.ToLower(p), uncommon(g.keywords)) && !slices.Contains(g.claims, p) {
				g.claims = append(g.claims, p)
			}
		}
		sort.Strings(g.claims)
	}
	g.wordStart = g.anchored && leadingWordBoundary(parsed)
	// A rule that does not start at its keyword cannot be limited to
	// token starts: its keyword may sit inside a key name.
	g.tokenStart = g.tokenStart && g.anchored
	// A literal every match holds, when the keyword hit does not already
	// guarantee it ("lob" for a rule keyed on "test_", "--user" after
	// "curl"), rules a window out before the expression runs.
	g.required = requiredLiterals(parsed, g.keywords)
	g.alsoRequired = alsoRequiredLiterals(parsed, g.keywords, g.required)
	// A keyword that is not part of the expression's literals only says
	// the token is near ("airtable" for an Airtable token): such a rule runs on a
	// wide window.
	if !g.anchored {
		lits := literals(parsed)
		for _, k := range g.keywords {
			found := false
			for _, l := range lits {
				// The keyword holds the literal when the expression
				// splits it ("hooks.slack.com" around its any-character
				// dots, "linked[_-]?in").
				found = found || strings.Contains(l, k) || len(l) >= 3 && strings.Contains(k, l)
			}
			g.nearby = g.nearby || !found
		}
	}
	for _, a := range r.Allowlists {
		ga, keep, err := convertAllowlist(a)
		if err != nil {
			return genRule{}, "", err
		}
		if keep {
			g.allowlists = append(g.allowlists, ga)
		}
	}
	return g, "", nil
}

// uncommon returns the keywords that are not common.
func uncommon(keywords []string) []string {
	var out []string
	for _, k := range keywords {
		if !commonKeywords[k] {
			out = append(out, k)
		}
	}
	return out
}

// distinctivePrefix: a token prefix that names its vendor — four bytes or
// more ("AKIA", "xoxb-", "dapi"), or three ending in a separator ("hf_").
// Shorter ones ("sk", "ey") begin ordinary values as well.
func distinctivePrefix(p string) bool {
	if len(p) >= 4 {
		return true
	}
	return len(p) == 3 && strings.IndexByte("_-.", p[2]) >= 0
}

// foldsCase reports an expression with a case-insensitive literal: its
// prefixes as written are not the only ones.
func foldsCase(re *syntax.Regexp) bool {
	if re.Op == syntax.OpLiteral && re.Flags&syntax.FoldCase != 0 {
		return true
	}
	for _, sub := range re.Sub {
		if foldsCase(sub) {
			return true
		}
	}
	return false
}

// secretPart is the subexpression that holds the secret: the secret
// group, else the first group, else the whole expression.
func secretPart(re *syntax.Regexp, group int) *syntax.Regexp {
	if group == 0 {
		group = 1
	}
	var found *syntax.Regexp
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		if found != nil {
			return
		}
		if re.Op == syntax.OpCapture && re.Cap == group {
			found = re
			return
		}
		for _, sub := range re.Sub {
			walk(sub)
		}
	}
	walk(re)
	if found == nil {
		return re
	}
	return found
}

// matchesSpace reports an expression that may match a space or any
// character: it describes more than a token (a command line, a key and
// its value).
func matchesSpace(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpLiteral:
		return strings.ContainsAny(string(re.Rune), " \t\n")
	case syntax.OpCharClass:
		for i := 0; i < len(re.Rune); i += 2 {
			if re.Rune[i] <= ' ' && ' ' <= re.Rune[i+1] {
				return true
			}
		}
	}
	for _, sub := range re.Sub {
		if matchesSpace(sub) {
			return true
		}
	}
	return false
}

// convertAllowlist keeps what of an allowlist applies to text: its
// regexes and stop words. Path and commit conditions cannot hold for
// memory text, so an allowlist that needs one of them (condition AND) is
// dropped, and one made only of them too.
func convertAllowlist(a allowlist) (genAllowlist, bool, error) {
	needsPathOrCommit := len(a.Paths) > 0 || len(a.Commits) > 0
	if strings.EqualFold(a.Condition, "AND") && needsPathOrCommit {
		return genAllowlist{}, false, nil
	}
	if len(a.Regexes) == 0 && len(a.StopWords) == 0 {
		return genAllowlist{}, false, nil
	}
	switch a.RegexTarget {
	case "", "secret", "match", "line":
	default:
		return genAllowlist{}, false, fmt.Errorf("unknown regexTarget %q", a.RegexTarget)
	}
	ga := genAllowlist{target: a.RegexTarget}
	for _, re := range a.Regexes {
		if _, err := regexp.Compile(re); err != nil {
			return genAllowlist{}, false, fmt.Errorf("allowlist regex %q: %w", re, err)
		}
		parsed, err := syntax.Parse(re, syntax.Perl)
		if err != nil {
			return genAllowlist{}, false, err
		}
		ga.regexes = append(ga.regexes, genAllowRegex{re, requiredLiterals(parsed.Simplify(), nil)})
	}
	if ga.target == "secret" {
		ga.target = ""
	}
	seen := map[string]bool{}
	for _, w := range a.StopWords {
		w = strings.ToLower(w)
		if !seen[w] {
			seen[w] = true
			ga.stopwords = append(ga.stopwords, w)
		}
	}
	sort.Strings(ga.stopwords)
	return ga, true, nil
}

// literals returns every literal of re, lower-cased.
func literals(re *syntax.Regexp) []string {
	var out []string
	if re.Op == syntax.OpLiteral {
		out = append(out, strings.ToLower(string(re.Rune)))
	}
	for _, sub := range re.Sub {
		out = append(out, literals(sub)...)
	}
	return out
}

// impliedBy reports whether every literal of set lies inside one of the
// keywords: a keyword hit then already shows one is there.
func impliedBy(set, keywords []string) bool {
	for _, s := range set {
		found := false
		for _, k := range keywords {
			found = found || strings.Contains(k, s)
		}
		if !found {
			return false
		}
	}
	return true
}

// requiredLiterals returns lower-cased literals one of which every match
// of re contains, or none. Of the elements every match goes through, it
// picks the set whose shortest literal is longest, passing over sets that
// a keyword hit already implies; an alternation needs one in each branch.
func requiredLiterals(re *syntax.Regexp, keywords []string) []string {
	usable := func(set []string) bool { return len(set) > 0 && !impliedBy(set, keywords) }
	set := required(re, usable, false)
	if !usable(set) || shortest(set) < 2 {
		return nil
	}
	return set
}

// required returns literals one of which every match of re holds (see
// requiredLiterals); strict: only literals the scan's ASCII lower-casing
// meets however the text is written (see exactStrings).
func required(re *syntax.Regexp, usable func([]string) bool, strict bool) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if strict {
			return exactStrings(re)
		}
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0], usable, strict)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0], usable, strict)
		}
	case syntax.OpConcat:
		var best []string
		for _, set := range sequenceSets(re, usable, strict) {
			if usable(set) && shortest(set) > shortest(best) {
				best = set
			}
		}
		return best
	case syntax.OpAlternate:
		seen := map[string]bool{}
		var union []string
		for _, sub := range re.Sub {
			set := required(sub, usable, strict)
			if len(set) == 0 {
				return nil
			}
			for _, s := range set {
				if !seen[s] {
					seen[s] = true
					union = append(union, s)
				}
			}
		}
		sort.Strings(union)
		if len(union) > maxPrefixes {
			return nil
		}
		return union
	}
	return nil
}

// sequenceSets returns, for a sequence (OpConcat), sets of literals one
// of which every match holds: each element's, and those of runs of
// elements of fixed text. Adjacent elements of fixed text join into
// longer literals: the parser factors "-u|--user" into "-(?:u|-user)",
// whose parts alone are a single character.
func sequenceSets(re *syntax.Regexp, usable func([]string) bool, strict bool) [][]string {
	var sets [][]string
	var run []string
	for _, sub := range re.Sub {
		sets = append(sets, required(sub, usable, strict))
		exact := exactStrings(sub)
		switch {
		case exact == nil:
			run = nil
		case run == nil:
			run = exact
		default:
			if run = product(run, exact); run == nil {
				run = exact
			}
		}
		sets = append(sets, run)
	}
	return sets
}

// alsoRequiredLiterals returns a second set of literals one of which every
// match of re holds, from another element of its sequence than first:
// "curl … -H … Authorization:" needs both the flag and the header's name,
// and either alone is common in the text after a "curl". A set that
// first implies (each of first's literals holds one of it) says nothing
// more.
func alsoRequiredLiterals(re *syntax.Regexp, keywords, first []string) []string {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if first == nil || re.Op != syntax.OpConcat {
		return nil
	}
	usable := func(set []string) bool { return len(set) > 0 && !impliedBy(set, keywords) }
	var best []string
	for _, set := range sequenceSets(re, usable, true) {
		if usable(set) && shortest(set) >= 2 && shortest(set) > shortest(best) && !eachHoldsOneOf(first, set) {
			best = set
		}
	}
	return best
}

// eachHoldsOneOf reports whether every literal of lits contains one of
// set.
func eachHoldsOneOf(lits, set []string) bool {
	for _, l := range lits {
		if !slices.ContainsFunc(set, func(s string) bool { return strings.Contains(l, s) }) {
			return false
		}
	}
	return true
}

// exactStrings returns the lower-cased strings re matches when they are
// few and of ASCII (a literal, alternations and sequences of them), or
// nil.
func exactStrings(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf || re.Flags&syntax.FoldCase != 0 && foldsBeyondASCII(r) {
				return nil // the scan lower-cases ASCII only
			}
		}
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture:
		return exactStrings(re.Sub[0])
	case syntax.OpAlternate:
		var union []string
		for _, sub := range re.Sub {
			set := exactStrings(sub)
			if set == nil {
				return nil
			}
			union = append(union, set...)
		}
		if len(union) > maxPrefixes {
			return nil
		}
		sort.Strings(union)
		return slices.Compact(union)
	case syntax.OpConcat:
		set := []string{""}
		for _, sub := range re.Sub {
			if set = product(set, exactStrings(sub)); set == nil {
				return nil
			}
		}
		return set
	}
	return nil
}

// foldsBeyondASCII: ignoring case, r also matches a rune outside ASCII
// ("k" the Kelvin sign, "s" the long s).
func foldsBeyondASCII(r rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// product joins every string of a with every string of b, or is nil when
// either is or the result would hold more than maxPrefixes.
func product(a, b []string) []string {
	if a == nil || b == nil || len(a)*len(b) > maxPrefixes {
		return nil
	}
	var out []string
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// shortest is the length of the shortest string of set, -1 when empty.
func shortest(set []string) int {
	n := -1
	for _, s := range set {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

func startsWithAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// maxLength is the longest match of re in bytes, or a number above
// maxTracked when it is unbounded.
func maxLength(re *syntax.Regexp) int {
	const inf = maxTracked + 1
	sat := func(n int) int { return min(n, inf) }
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += runeWidth(r)
		}
		return n
	case syntax.OpCharClass:
		w := 0
		for i := 1; i < len(re.Rune); i += 2 {
			w = max(w, runeWidth(re.Rune[i]))
		}
		return w
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 4
	case syntax.OpCapture, syntax.OpQuest:
		return maxLength(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		if maxLength(re.Sub[0]) == 0 {
			return 0
		}
		return inf
	case syntax.OpRepeat:
		if re.Max < 0 {
			if maxLength(re.Sub[0]) == 0 {
				return 0
			}
			return inf
		}
		return sat(re.Max * maxLength(re.Sub[0]))
	case syntax.OpConcat:
		n := 0
		for _, sub := range re.Sub {
			n = sat(n + maxLength(sub))
		}
		return n
	case syntax.OpAlternate:
		n := 0
		for _, sub := range re.Sub {
			n = max(n, maxLength(sub))
		}
		return n
	default: // empty matches and assertions
		return 0
	}
}

func runeWidth(r rune) int {
	switch {
	case r < 0x80:
		return 1
	case r < 0x800:
		return 2
	case r < 0x10000:
		return 3
	default:
		return 4
	}
}

// maxPrefixes bounds the literal prefixes tracked for a rule.
const maxPrefixes = 64

// literalPrefixes returns literal strings one of which every match of re
// starts with (exact: re matches exactly these strings), or none when a
// match may start otherwise. Empty-width assertions at the start are
// passed over.
func literalPrefixes(re *syntax.Regexp) (set []string, exact bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{string(re.Rune)}, true
	case syntax.OpCharClass:
		var chars []string
		for i := 0; i < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(chars) >= 8 {
					return nil, false
				}
				chars = append(chars, string(r))
			}
		}
		return chars, true
	case syntax.OpCapture:
		return literalPrefixes(re.Sub[0])
	case syntax.OpPlus:
		set, _ := literalPrefixes(re.Sub[0])
		return set, false
	case syntax.OpRepeat:
		if re.Min < 1 {
			return nil, false
		}
		set, _ := literalPrefixes(re.Sub[0])
		return set, false
	case syntax.OpAlternate:
		exact = true
		for _, sub := range re.Sub {
			s, e := literalPrefixes(sub)
			if len(s) == 0 {
				return nil, false
			}
			set = append(set, s...)
			exact = exact && e
		}
		if len(set) > maxPrefixes {
			return nil, false
		}
		return set, exact
	case syntax.OpConcat:
		acc := []string{""}
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpWordBoundary && len(acc) == 1 && acc[0] == "" {
				continue
			}
			s, e := literalPrefixes(sub)
			if len(s) == 0 {
				return trimEmpty(acc), false
			}
			var next []string
			for _, a := range acc {
				for _, b := range s {
					next = append(next, a+b)
				}
			}
			if len(next) > maxPrefixes {
				return trimEmpty(acc), false
			}
			acc = next
			if !e {
				return trimEmpty(acc), false
			}
		}
		return trimEmpty(acc), true
	default:
		return nil, false
	}
}

// trimEmpty returns set, or nothing when one of its strings is empty (a
// match may then start with anything).
func trimEmpty(set []string) []string {
	for _, s := range set {
		if s == "" {
			return nil
		}
	}
	return set
}

// leadingWordBoundary reports whether every match of re starts after a
// \b assertion.
func leadingWordBoundary(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpWordBoundary:
		return true
	case syntax.OpCapture:
		return leadingWordBoundary(re.Sub[0])
	case syntax.OpConcat:
		return len(re.Sub) > 0 && leadingWordBoundary(re.Sub[0])
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !leadingWordBoundary(sub) {
				return false
			}
		}
		return len(re.Sub) > 0
	default:
		return false
	}
}

func render(pkg string, names, licenses []string, rules []genRule, skips []skipped, global []genAllowlist, extra extraData) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by policy/internal/rulegen from %s. DO NOT EDIT.\n\n", strings.Join(names, " and "))
	for _, l := range licenses {
		for _, line := range strings.Split(strings.TrimRight(l, "\n"), "\n") {
			b.WriteString(strings.TrimRight("// "+line, " ") + "\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "package %s\n\n", pkg)
	b.WriteString("// vendorRulesSource names the rule sets the vendor rules were generated from.\n")
	fmt.Fprintf(&b, "const vendorRulesSource = %s\n\n", strconv.Quote(strings.Join(names, "; ")))
	b.WriteString("// Rules left out:\n")
	for _, s := range skips {
		fmt.Fprintf(&b, "//   - %s (%s): %s\n", s.id, s.source, s.reason)
	}
	b.WriteString("\n// vendorGlobalAllowlists apply to every vendor rule.\n")
	b.WriteString("var vendorGlobalAllowlists = []vendorAllowlist{\n")
	for _, a := range global {
		writeAllowlist(&b, a)
	}
	b.WriteString("}\n\n")
	b.WriteString("// publishedExamples are credentials the rules' allowlists name literally:\n")
	b.WriteString("// published in documentation, they are no secret wherever they stand.\n")
	fmt.Fprintf(&b, "var publishedExamples = %s\n\n", stringSlice(extra.examples))
	b.WriteString("// genericKeyAllowlists are the allowlists of gitleaks' generic rule that\n")
	b.WriteString("// judge a key/value pair by its key (an id, a public token, a file) and\n")
	b.WriteString("// match within the key.\n")
	b.WriteString("var genericKeyAllowlists = []vendorAllowlist{\n")
	for _, a := range extra.genericKey {
		writeAllowlist(&b, a)
	}
	b.WriteString("}\n\n")
	b.WriteString("// genericPairAllowlists are those that read on from the key into the\n")
	b.WriteString("// value (io.jsonwebtoken:jjwt).\n")
	b.WriteString("var genericPairAllowlists = []vendorAllowlist{\n")
	for _, a := range extra.genericPair {
		writeAllowlist(&b, a)
	}
	b.WriteString("}\n\n")
	b.WriteString("// vendorRules are the vendor token rules, in source order.\n")
	b.WriteString("var vendorRules = []vendorRule{\n")
	for _, r := range rules {
		b.WriteString("{\n")
		fmt.Fprintf(&b, "id: %s,\n", strconv.Quote(r.id))
		fmt.Fprintf(&b, "kind: %s,\n", r.kind)
		fmt.Fprintf(&b, "keywords: %s,\n", stringSlice(r.keywords))
		fmt.Fprintf(&b, "regex: %s,\n", goString(r.regex))
		if r.secretGroup > 0 {
			fmt.Fprintf(&b, "secretGroup: %d,\n", r.secretGroup)
		}
		if r.entropy > 0 {
			fmt.Fprintf(&b, "entropy: %s,\n", strconv.FormatFloat(r.entropy, 'g', -1, 64))
		}
		fmt.Fprintf(&b, "maxLen: %d,\n", r.maxLen)
		if r.anchored {
			b.WriteString("anchored: true,\n")
		}
		if r.wordStart {
			b.WriteString("wordStart: true,\n")
		}
		if r.tokenStart {
			b.WriteString("tokenStart: true,\n")
		}
		if r.nearby {
			b.WriteString("nearby: true,\n")
		}
		if len(r.required) > 0 {
			fmt.Fprintf(&b, "required: %s,\n", stringSlice(r.required))
		}
		if len(r.alsoRequired) > 0 {
			fmt.Fprintf(&b, "alsoRequired: %s,\n", stringSlice(r.alsoRequired))
		}
		if len(r.claims) > 0 {
			fmt.Fprintf(&b, "claims: %s,\n", stringSlice(r.claims))
			if r.claimsFoldCase {
				b.WriteString("claimsFoldCase: true,\n")
			}
		}
		if len(r.allowlists) > 0 {
			b.WriteString("allowlists: []vendorAllowlist{\n")
			for _, a := range r.allowlists {
				writeAllowlist(&b, a)
			}
			b.WriteString("},\n")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting the generated code: %w", err)
	}
	return src, nil
}

func writeAllowlist(b *bytes.Buffer, a genAllowlist) {
	b.WriteString("{")
	if a.target != "" {
		fmt.Fprintf(b, "target: %s, ", strconv.Quote(a.target))
	}
	if len(a.regexes) > 0 {
		b.WriteString("regexes: []allowRegex{")
		for _, re := range a.regexes {
			if len(re.required) > 0 {
				fmt.Fprintf(b, "{%s, %s}, ", goString(re.regex), stringSlice(re.required))
			} else {
				fmt.Fprintf(b, "{regex: %s}, ", goString(re.regex))
			}
		}
		b.WriteString("}, ")
	}
	if len(a.stopwords) > 0 {
		fmt.Fprintf(b, "stopwords: %s, ", stringSlice(a.stopwords))
	}
	b.WriteString("},\n")
}

func stringSlice(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

// goString quotes s as a raw string when it can, so that regular
// expressions stay readable.
func goString(s string) string {
	if strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
