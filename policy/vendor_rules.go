package policy

import (
	"bytes"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Vendor token shapes are data: vendor_rules_gen.go is generated (go
// generate) from rule files in gitleaks' format in rules/ — gitleaks'
// default rules, and the project's own additions — and each rule becomes
// a keyword detector. A rule runs only at a hit of one of its keywords, on
// a window around the hit, so the engine keeps its one pass.

// vendorRule is one generated rule.
type vendorRule struct {
	id       string
	kind     string
	keywords []string // lower-case
	regex    string
	// secretGroup is the group holding the secret; 0 means the first
	// group that matched, or the whole match when there is none.
	secretGroup int
	// entropy is the Shannon entropy (bits per character) a secret must
	// exceed; 0 means no threshold.
	entropy float64
	// maxLen is the longest match in bytes, -1 when unbounded.
	maxLen int
	// anchored: every match starts with one of the keywords, so the rule
	// runs once at each hit, anchored there. Otherwise it runs on the
	// window around the hit (the keyword may sit inside a key name, or
	// only near the token).
	anchored bool
	// wordStart: the expression asks for a word boundary before the
	// keyword, checked before it runs.
	wordStart bool
	// tokenStart: the keyword is common in ordinary text, so the rule runs
	// only where it starts a token.
	tokenStart bool
	// nearby: a keyword need not be part of the match, only near it, so
	// the rule runs on maxKeywordWindow bytes on each side of the hit.
	nearby bool
	// required are literals (lower-case) one of which every match holds,
	// checked in the window before the expression runs.
	required []string
	// alsoRequired are literals (lower-case) one of which every match
	// holds too, from another part of the expression than required.
	alsoRequired []string
	// claims are token prefixes (case-sensitive) that name the vendor: a
	// token starting with one is the vendor's, or a malformed or published
	// one, which the rule judges (see vendorRejects).
	claims []string
	// claimsFoldCase: the claims are lower-case, and compared so.
	claimsFoldCase bool
	allowlists     []vendorAllowlist
}

// vendorAllowlist holds values a rule must not report: a match of one of
// the regexes (on the secret, the whole match or its line, after target),
// or a secret containing one of the stop words (lower-case).
type vendorAllowlist struct {
	target    string // "", "match" or "line"
	regexes   []allowRegex
	stopwords []string
}

// allowRegex is an allowlist's regular expression and literals (lower-case)
// one of which every match of it holds: without one in the target, the
// expression need not run.
type allowRegex struct {
	regex    string
	required []string
}

// maxVendorWindow bounds how far after its keyword a rule whose matches
// are unbounded is run. A rule first runs on at most maxKeywordWindow
// bytes, and on more only when its match reaches that window's end: the
// cost of a run grows with its window, and most hits match nothing.
const maxVendorWindow = 4 * maxKeywordWindow

// The vendor rules join the built-in keyword detectors: the one automaton
// finds the keywords of both.
func init() { keywordDetectors = append(keywordDetectors, vendorDetectors()...) }

// vendorGlobal is the rule set's global allowlists, compiled.
var vendorGlobal = sync.OnceValue(func() []compiledAllowlist { return compileAllowlists(vendorGlobalAllowlists) })

// compiledVendorRules holds, per rule, the rule compiled when it first
// runs: most never do in a given process.
var compiledVendorRules = func() []func() *compiledVendorRule {
	out := make([]func() *compiledVendorRule, len(vendorRules))
	for i := range vendorRules {
		r := &vendorRules[i]
		out[i] = sync.OnceValue(func() *compiledVendorRule { return r.compile(vendorGlobal()) })
	}
	return out
}()

// vendorRuleIndex maps a rule's id to its index in vendorRules.
var vendorRuleIndex = func() map[string]int {
	m := make(map[string]int, len(vendorRules))
	for i := range vendorRules {
		m[vendorRules[i].id] = i
	}
	return m
}()

// vendorDetectors turns the generated rules into keyword detectors.
func vendorDetectors() []*keywordDetector {
	detectors := make([]*keywordDetector, 0, len(vendorRules))
	for i := range vendorRules {
		r, compiled := &vendorRules[i], compiledVendorRules[i]
		detectors = append(detectors, &keywordDetector{kind: r.kind, keywords: r.keywords,
			find: func(s *scan, hit, hitEnd int, out []finding) []finding {
				if r.anchored && hit > 0 {
					prev := s.text[hit-1]
					if r.wordStart && isWord(prev) || r.tokenStart && isAlnum(prev) {
						return out
					}
				}
				return compiled().find(s, hit, hitEnd, out)
			}})
	}
	return detectors
}

// compiledVendorRule is a rule ready to run.
type compiledVendorRule struct {
	*vendorRule
	re *regexp.Regexp
	// lead holds, for the first bytes of every match of an anchored rule,
	// the bytes each may be: a keyword hit that an ordinary word follows
	// ("eyes" for "ey") fails on them before the expression runs.
	lead     []byteSet
	required [][][]byte // required and alsoRequired
	allow    []compiledAllowlist
	priority int
}

type compiledAllowlist struct {
	target   string
	res      []*regexp.Regexp
	required [][]string // per expression
	// first is, per expression anchored at the start of its target, the
	// bytes its matches may start with (nil when not known): most
	// targets fail on their first byte, without the expression running.
	first     []*byteSet
	stopwords []string
}

func (r *vendorRule) compile(global []compiledAllowlist) *compiledVendorRule {
	pattern := r.regex
	if r.anchored {
		pattern = `\A(?:` + pattern + `)`
	}
	c := &compiledVendorRule{vendorRule: r, re: regexp.MustCompile(pattern), priority: priorityToken}
	if r.anchored {
		c.lead = leadingBytes(r.regex)
	}
	for _, set := range [][]string{r.required, r.alsoRequired} {
		if len(set) == 0 {
			continue
		}
		var lits [][]byte
		for _, lit := range set {
			lits = append(lits, []byte(lit))
		}
		c.required = append(c.required, lits)
	}
	if r.kind == KindAPIKey {
		c.priority++ // as for the built-in tokens: a vendor's key, not the generic shape it contains
	}
	c.allow = append(append(c.allow, global...), compileAllowlists(r.allowlists)...)
	return c
}

func compileAllowlists(lists []vendorAllowlist) []compiledAllowlist {
	var out []compiledAllowlist
	for _, a := range lists {
		// Compiled one by one, not as one alternation: most are anchored
		// and fail on a secret's first byte, which an alternation of them
		// could not.
		ca := compiledAllowlist{target: a.target, stopwords: a.stopwords}
		for _, re := range a.regexes {
			ca.res = append(ca.res, regexp.MustCompile(re.regex))
			ca.required = append(ca.required, re.required)
			ca.first = append(ca.first, anchoredFirstBytes(re.regex))
		}
		out = append(out, ca)
	}
	return out
}

// find runs the rule at a keyword hit.
func (r *compiledVendorRule) find(s *scan, hit, hitEnd int, out []finding) []finding {
	n := len(s.text)
	if r.anchored {
		limit := min(n, hit+maxVendorWindow)
		if r.maxLen >= 0 {
			limit = min(n, hit+r.maxLen+1)
		}
		for i, set := range r.lead {
			if hit+i >= n || !set.has(s.text[hit+i]) {
				return out
			}
		}
		if !r.holdsRequired(s.lower[hit:limit]) {
			return out
		}
		end := min(limit, hit+maxKeywordWindow)
		for {
			m := r.re.FindStringSubmatchIndex(s.text[hit:end])
			if m == nil {
				return out
			}
			if hit+m[1] < end || end == n || end == limit {
				return r.accept(s, hit, end, m, out)
			}
			end = limit // the match may go on past the window
		}
	}
	span := maxKeywordWindow
	if !r.nearby && r.maxLen >= 0 && r.maxLen < span {
		span = r.maxLen
	}
	start, end := max(0, hit-span), min(n, hitEnd+span)
	if !r.holdsRequired(s.lower[start:end]) {
		return out
	}
	for _, m := range r.re.FindAllStringSubmatchIndex(s.text[start:end], -1) {
		out = r.accept(s, start, end, m, out)
	}
	return out
}

// holdsRequired reports whether the lower-cased window holds, of each set
// of literals every match needs one of, one (true when the rule has none).
func (r *compiledVendorRule) holdsRequired(window []byte) bool {
	for _, set := range r.required {
		if !holdsOneOf(window, set) {
			return false
		}
	}
	return true
}

func holdsOneOf(window []byte, literals [][]byte) bool {
	for _, lit := range literals {
		if bytes.Contains(window, lit) {
			return true
		}
	}
	return false
}

// accept adds the secret of match m, found in the window [base, end) of
// the text, unless the window's edges may have made the match, its
// entropy is too low or an allowlist holds it.
func (r *compiledVendorRule) accept(s *scan, base, end int, m []int, out []finding) []finding {
	// At a window edge that is not the text's, "$", "\b" or "\z" hold
	// where the text goes on: such a match is not one in the text.
	if base+m[1] == end && end < len(s.text) {
		return out
	}
	ss, se := m[0], m[1]
	if g := r.secretGroup; g > 0 {
		ss, se = m[2*g], m[2*g+1]
	} else {
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] >= 0 && m[g+1] > m[g] {
				ss, se = m[g], m[g+1]
				break
			}
		}
	}
	if ss < 0 || se <= ss || ss == 0 && base > 0 && !r.anchored {
		return out
	}
	start, stop := base+ss, base+se
	if r.anchored && stop == base+m[1] && s.wordAfter(stop) && s.text[stop] != '_' {
		return out // the token goes on: a longer run is not the vendor's token, nor its head
	}
	for stop > start && (s.text[stop-1] == '\n' || s.text[stop-1] == '\r') {
		stop--
	}
	secret := s.text[start:stop]
	if r.entropy > 0 && shannonEntropy(secret) <= r.entropy || r.kind == KindJWT && !validJWT(secret) {
		return out
	}
	for _, a := range r.allow {
		if a.allows(s.text, secret, base+m[0], base+m[1]) {
			return out
		}
	}
	return append(out, finding{start: start, end: stop, kind: r.kind, priority: r.priority})
}

// allows reports whether the allowlist holds a secret found in the match
// [ms, me) of text.
func (a *compiledAllowlist) allows(text, secret string, ms, me int) bool {
	if len(a.res) > 0 {
		target := secret
		switch a.target {
		case "match":
			target = text[ms:me]
		case "line":
			from := strings.LastIndexByte(text[:ms], '\n') + 1
			to := me + strings.IndexByte(text[me:], '\n')
			if to < me {
				to = len(text)
			}
			target = text[from:to]
		}
		for i, re := range a.res {
			if first := a.first[i]; first != nil && (target == "" || !first.has(target[0])) {
				continue
			}
			if len(a.required[i]) > 0 && !containsFold(target, a.required[i]) {
				continue
			}
			if re.MatchString(target) {
				return true
			}
		}
	}
	if len(a.stopwords) > 0 {
		lower := strings.ToLower(secret)
		for _, w := range a.stopwords {
			if strings.Contains(lower, w) {
				return true
			}
		}
	}
	return false
}

// containsFold reports whether s holds one of the lower-case literals,
// ignoring ASCII case.
func containsFold(s string, literals []string) bool {
	for _, lit := range literals {
		for i := 0; i+len(lit) <= len(s); i++ {
			j := 0
			for j < len(lit) && asciiLowerByte(s[i+j]) == lit[j] {
				j++
			}
			if j == len(lit) {
				return true
			}
		}
	}
	return false
}

func asciiLowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (b *byteSet) add(c byte)      { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

// addRune adds the first byte of r in UTF-8; for r outside ASCII, every
// byte from 0x80.
func (b *byteSet) addRune(r rune) {
	if r < utf8.RuneSelf {
		b.add(byte(r))
		return
	}
	b.addRange(0x80, 0xff)
}

func (b *byteSet) addRange(lo, hi rune) {
	for c := max(lo, 0); c <= min(hi, 0xff); c++ {
		b.add(byte(c))
	}
}

// maxLead is how many leading bytes of a match are checked before its
// expression runs.
const maxLead = 16

// leadingBytes returns the bytes each of the first positions of every
// match of pattern may be, as far as the expression fixes them: it reads
// literals and character classes (not what follows a repetition of
// varying count or an alternation), passing over a leading \b. A
// character outside ASCII ends it.
func leadingBytes(pattern string) []byteSet {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	var sets []byteSet
	var walk func(re *syntax.Regexp) bool // false: stop
	walk = func(re *syntax.Regexp) bool {
		if len(sets) >= maxLead {
			return false
		}
		switch re.Op {
		case syntax.OpWordBoundary:
			return len(sets) == 0
		case syntax.OpCapture:
			return walk(re.Sub[0])
		case syntax.OpConcat:
			for _, sub := range re.Sub {
				if !walk(sub) {
					return false
				}
			}
			return true
		case syntax.OpRepeat, syntax.OpPlus:
			times := 1
			if re.Op == syntax.OpRepeat {
				times = re.Min
			}
			for range times {
				if !walk(re.Sub[0]) {
					return false
				}
			}
			return re.Op == syntax.OpRepeat && re.Max == re.Min
		case syntax.OpLiteral:
			for _, c := range re.Rune {
				if c >= 0x80 || len(sets) >= maxLead {
					return false
				}
				var set byteSet
				set.add(byte(c))
				if re.Flags&syntax.FoldCase != 0 {
					set.add(byte(asciiLowerRune(c)))
					set.add(byte(asciiUpperRune(c)))
				}
				sets = append(sets, set)
			}
			return true
		case syntax.OpCharClass:
			var set byteSet
			for i := 0; i < len(re.Rune); i += 2 {
				if re.Rune[i+1] >= 0x80 {
					return false
				}
				set.addRange(re.Rune[i], re.Rune[i+1])
			}
			sets = append(sets, set)
			return true
		default:
			return false
		}
	}
	walk(re.Simplify())
	return sets
}

// anchoredFirstBytes returns, for an expression whose matches start at
// the beginning of the text ("^…", "\A…") with at least one character,
// the bytes the text must start with for it to match; nil when the
// expression says less than that. A character outside ASCII stands for
// every byte from 0x80 (its UTF-8 encoding, or invalid UTF-8 the
// expression reads as U+FFFD).
func anchoredFirstBytes(pattern string) *byteSet {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return nil
	}
	set, ok := firstBytes(re.Sub[1])
	if !ok {
		return nil
	}
	return &set
}

// firstBytes returns the bytes every match of re starts with, and false
// when re may match the empty string or its first byte is not known.
func firstBytes(re *syntax.Regexp) (set byteSet, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		r := re.Rune[0]
		set.addRune(r)
		if re.Flags&syntax.FoldCase != 0 {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				set.addRune(f)
			}
		}
		return set, true
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			set.addRange(re.Rune[i], re.Rune[i+1])
			if re.Rune[i+1] >= utf8.RuneSelf {
				set.addRange(0x80, 0xff)
			}
		}
		return set, len(re.Rune) > 0
	case syntax.OpCapture, syntax.OpPlus:
		return firstBytes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return firstBytes(re.Sub[0])
		}
	case syntax.OpConcat:
		if len(re.Sub) > 0 {
			return firstBytes(re.Sub[0])
		}
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			s, ok := firstBytes(sub)
			if !ok {
				return byteSet{}, false
			}
			for k := range set {
				set[k] |= s[k]
			}
		}
		return set, true
	}
	return byteSet{}, false
}

func asciiLowerRune(c rune) rune {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiUpperRune(c rune) rune {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// shannonEntropy is the entropy of s in bits per character, as gitleaks
// computes it for its thresholds.
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var ascii [128]int
	var other map[rune]int
	total := 0
	for _, c := range s {
		total++
		if c < 128 {
			ascii[c]++
			continue
		}
		if other == nil {
			other = map[rune]int{}
		}
		other[c]++
	}
	var h float64
	add := func(count int) {
		if count > 0 {
			p := float64(count) / float64(total)
			h -= p * math.Log2(p)
		}
	}
	for _, c := range ascii {
		add(c)
	}
	for _, c := range other {
		add(c)
	}
	return h
}
