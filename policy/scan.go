package policy

import (
	"sort"

	"github.com/coregx/ahocorasick"
)

// The detection engine makes one pass over a text. Keyword detectors (key /
// value secrets, vendor token prefixes, headers, PEM blocks, URLs with
// credentials) are found through one Aho–Corasick automaton over the
// lower-cased text; each hit runs its detector in a window around the
// keyword only. Structural detectors (emails, numbers that may be cards,
// phones or IPs, IBANs, IPv6 addresses) are found by a single byte scan.
// Candidates are validated (checksums, phone numbering plans, address
// parsing, context), overlaps are resolved by priority, and the text is
// rewritten once.

// finding is one sensitive value: its byte range in the text and its kind.
type finding struct {
	start, end int
	kind       string
	priority   int
}

// Priorities settle overlaps: a value found as a secret is not also
// reported as the email or number it contains.
const (
	priorityPII      = 10
	priorityToken    = 20
	prioritySecret   = 30
	priorityBlock    = 40 // a private key block swallows what is inside it
	priorityCustom   = 50
	priorityLiteral  = 60 // the gateway's own configured secrets
	maxKeywordWindow = 512
)

// keywordDetector is found through its keywords (lower-case literals): hit is
// where one matched in the text; it appends what it finds to out.
type keywordDetector struct {
	kind     string
	keywords []string
	find     func(s *scan, hit, hitEnd int, out []finding) []finding
}

// scan is one text being examined.
type scan struct {
	text  string
	lower []byte
	cfg   *scanConfig
}

// scanConfig is what a policy decides about detection.
type scanConfig struct {
	// phoneRegion is the region numbers without a country code are read in.
	phoneRegion string
}

// engine holds the compiled keyword automaton.
type engine struct {
	automaton *ahocorasick.Automaton
	// byPattern maps an automaton pattern to its detectors.
	byPattern [][]*keywordDetector
	// literals are exact values (the gateway's own secrets) by lower-cased
	// pattern id; their matches are checked case-sensitively.
	literals map[int]string
}

// newEngine compiles the keyword detectors and literal secrets.
func newEngine(detectors []*keywordDetector, literals []string) (*engine, error) {
	e := &engine{literals: map[int]string{}}
	ids := map[string]int{}
	var patterns []string
	add := func(p string) int {
		if id, ok := ids[p]; ok {
			return id
		}
		id := len(patterns)
		ids[p] = id
		patterns = append(patterns, p)
		e.byPattern = append(e.byPattern, nil)
		return id
	}
	for _, d := range detectors {
		for _, kw := range d.keywords {
			id := add(kw)
			e.byPattern[id] = append(e.byPattern[id], d)
		}
	}
	for _, lit := range literals {
		if lit == "" {
			continue
		}
		e.literals[add(string(asciiLower(lit)))] = lit
	}
	ac, err := ahocorasick.NewBuilder().AddStrings(patterns).Build()
	if err != nil {
		return nil, err
	}
	e.automaton = ac
	return e, nil
}

// candidates returns every finding in text, overlaps not yet resolved.
func (e *engine) candidates(text string, cfg *scanConfig) []finding {
	s := &scan{text: text, lower: asciiLower(text), cfg: cfg}
	var out []finding
	for _, m := range e.automaton.FindAllOverlapping(s.lower) {
		if lit, ok := e.literals[m.PatternID]; ok && text[m.Start:m.End] == lit {
			out = append(out, finding{start: m.Start, end: m.End, kind: KindConfiguredSecret, priority: priorityLiteral})
		}
		for _, d := range e.byPattern[m.PatternID] {
			out = d.find(s, m.Start, m.End, out)
		}
	}
	return s.structural(out)
}

// resolve keeps, of overlapping findings, the one of higher priority (then
// the longer, then the earlier), and returns them in text order.
func resolve(all []finding) []finding {
	if len(all) < 2 {
		return all
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		if a.end-a.start != b.end-b.start {
			return a.end-a.start > b.end-b.start
		}
		return a.start < b.start
	})
	kept := all[:0:0]
	for _, f := range all {
		if f.end <= f.start {
			continue
		}
		overlaps := false
		for _, k := range kept {
			if f.start < k.end && k.start < f.end {
				overlaps = true
				break
			}
		}
		if !overlaps {
			kept = append(kept, f)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].start < kept[j].start })
	return kept
}

// asciiLower lower-cases ASCII letters, byte for byte, so offsets into the
// result are offsets into the text.
func asciiLower(s string) []byte {
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
func isWord(c byte) bool  { return isAlnum(c) || c == '_' }
func isHex(c byte) bool   { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// wordBefore reports whether the byte before i continues a word (so a
// match starting at i would start mid-word).
func (s *scan) wordBefore(i int) bool { return i > 0 && isWord(s.text[i-1]) }

// wordAfter reports whether the byte at i continues a word.
func (s *scan) wordAfter(i int) bool { return i < len(s.text) && isWord(s.text[i]) }

// precededBy reports whether one of words (lower-case) stands as a whole
// word within max bytes before i: the context of a number ("order 123…",
// "tracking no. 1Z 999 AA1 01 2345 6784").
func (s *scan) precededBy(i, max int, words []string) bool {
	from := i - max
	if from < 0 {
		from = 0
	}
	window := s.lower[from:i]
	for end := len(window); end > 0; {
		for end > 0 && !isAlnum(window[end-1]) {
			end--
		}
		start := end
		for start > 0 && isAlnum(window[start-1]) {
			start--
		}
		if start == 0 && from > 0 && isAlnum(s.lower[from-1]) {
			break // a word cut by the window
		}
		// A redaction marker ("[REDACTED:phone]") is no context word:
		// otherwise redacting again would find what the first pass did not.
		if m := markerBefore(s.lower, from+start); m >= 0 {
			if m <= from {
				break // the marker begins before the window: nothing older counts
			}
			end = m - from
			continue
		}
		word := string(window[start:end])
		for _, w := range words {
			if word == w {
				return true
			}
		}
		end = start
	}
	return false
}

// redactionMarkerOpen is how a redaction marker begins, lower-cased.
const redactionMarkerOpen = "[redacted:"

// markerBefore returns where the redaction marker holding the word at
// start begins, or -1 when the word is not inside one.
func markerBefore(lower []byte, start int) int {
	p := start
	for p > 0 && (isAlnum(lower[p-1]) || lower[p-1] == '_') {
		p--
	}
	if p >= len(redactionMarkerOpen) && string(lower[p-len(redactionMarkerOpen):p]) == redactionMarkerOpen {
		return p - len(redactionMarkerOpen)
	}
	return -1
}
