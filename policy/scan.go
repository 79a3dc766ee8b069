package policy

import (
	"sort"
	"strings"
	"unicode/utf8"
	"unsafe"

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
	// token: the keywords are the prefixes of a vendor's tokens, whose
	// shape the detector knows.
	token bool
	// shape reports whether a whole value is one of the vendor's tokens
	// (token detectors only).
	shape func(v string) bool
	find  func(s *scan, hit, hitEnd int, out []finding) []finding
}

// scan is one text being examined.
type scan struct {
	text  string
	lower []byte
	// lowerText is lower as a string, for keys sliced out of it.
	lowerText string
	cfg       *scanConfig
	// lastKey is the key findKeyValue read last: a key holding two
	// keywords ("password" holds "pass") is read once.
	lastKey span
	pemEnd  pemEndSearch
	// markers are the redaction markers already in the text, in order:
	// inert (see markers.go).
	markers []span
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

// candidates returns the findings in text whose keyword or start lies in
// one of regions, overlaps not yet resolved; markers are the redaction
// markers in text, whose keywords are no hits. Detectors read the whole
// text around what they look at, so a region gives the same findings as a
// pass over the whole text would there.
func (e *engine) candidates(text string, cfg *scanConfig, markers, regions []span) []finding {
	lower := asciiLower(text)
	// lower is not written after this: the string shares its bytes
	// rather than copying the whole text once more on every pass.
	lowerText := unsafe.String(unsafe.SliceData(lower), len(lower))
	s := &scan{text: text, lower: lower, lowerText: lowerText, cfg: cfg, markers: markers}
	var out []finding
	for _, reg := range regions {
		for _, m := range e.automaton.FindAllOverlapping(s.lower[reg.start:reg.end]) {
			out = e.keywordHit(s, reg.start+m.Start, reg.start+m.End, m.PatternID, out)
		}
		out = s.structural(reg, out)
	}
	return out
}

// keywordHit runs the detectors of the keyword found at [start, end).
func (e *engine) keywordHit(s *scan, start, end, pattern int, out []finding) []finding {
	if _, inside := markerAt(s.markers, start); inside {
		return out
	}
	if lit, ok := e.literals[pattern]; ok && s.text[start:end] == lit {
		out = append(out, finding{start: start, end: end, kind: KindConfiguredSecret, priority: priorityLiteral})
	}
	for _, d := range e.byPattern[pattern] {
		out = d.find(s, start, end, out)
	}
	return out
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
		b[i] = lowerByte[s[i]]
	}
	return b
}

// lowerByte lower-cases an ASCII letter and keeps any other byte: a
// lookup, not a branch on every byte of the text.
var lowerByte = func() (t [256]byte) {
	for c := range t {
		t[c] = byte(c)
		if c >= 'A' && c <= 'Z' {
			t[c] += 'a' - 'A'
		}
	}
	return t
}()

// Byte classes, looked up in one table: the byte scan asks them of every
// byte.
const (
	classDigit = 1 << iota
	classUpper
	classLower
	classWord // letters, digits and _
	classHex
	classSpace
	// classOpener: bytes other than a word's that may start an email
	// ('@', '%' of "%40"), an IPv6 address (':') or a phone ('+', '(').
	classOpener
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = classDigit | classWord | classHex
		case c >= 'A' && c <= 'Z':
			t[c] = classUpper | classWord
		case c >= 'a' && c <= 'z':
			t[c] = classLower | classWord
		case c == '_':
			t[c] = classWord
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			t[c] = classSpace
		case c == '@' || c == '%' || c == ':' || c == '+' || c == '(':
			t[c] = classOpener
		}
		if c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			t[c] |= classHex
		}
	}
	return t
}()

func isDigit(c byte) bool { return byteClass[c]&classDigit != 0 }
func isUpper(c byte) bool { return byteClass[c]&classUpper != 0 }
func isLower(c byte) bool { return byteClass[c]&classLower != 0 }
func isAlpha(c byte) bool { return byteClass[c]&(classUpper|classLower) != 0 }
func isAlnum(c byte) bool { return byteClass[c]&(classUpper|classLower|classDigit) != 0 }
func isWord(c byte) bool  { return byteClass[c]&classWord != 0 }
func isHex(c byte) bool   { return byteClass[c]&classHex != 0 }
func isSpace(c byte) bool { return byteClass[c]&classSpace != 0 }

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
		if m, inside := markerAt(s.markers, from+start); inside {
			if m.start <= from {
				break // the marker begins before the window: nothing older counts
			}
			end = m.start - from
			continue
		}
		word := s.lowerText[from+start : from+end]
		for _, w := range words {
			if word == w {
				return true
			}
		}
		end = start
	}
	return false
}

// numberConnectors stand between a reference word and its number: "part
// number 4711-0815-42", "order no. 555-1234", "ticket nr 555 0142".
var numberConnectors = map[string]bool{"number": true, "no": true, "nr": true, "num": true, "is": true, "was": true}

// introducedBy reports whether one of words (lower-case) introduces the
// text at i: it is the word right before it ("order 555-123-4567"), or
// stands before connectors that are ("part number 4711-0815-42"). A word
// further back, or in an earlier sentence, introduces nothing: "questions
// about your receipt? Call 020 7946 0958".
func (s *scan) introducedBy(i int, words map[string]bool) bool {
	for range 3 {
		start, end, ok := s.previousWord(i)
		if !ok {
			return false
		}
		w := s.lowerText[start:end]
		if !isASCII(w) {
			w = strings.ToLower(w)
		}
		if words[w] {
			return true
		}
		if !numberConnectors[w] {
			return false
		}
		i = start
	}
	return false
}

// previousWord returns the word (of letters and digits of any language)
// before i in the same sentence: across spaces and the punctuation of
// references (# : , and the dot of an abbreviation such as "no."), not
// across a line break, a sentence's end or a redaction marker.
func (s *scan) previousWord(i int) (int, int, bool) {
	t := s.text
	end := i
	dot := false
	for end > 0 {
		r, size := rune(t[end-1]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeLastRuneInString(t[:end])
		}
		if isWordRune(r) {
			break
		}
		switch r {
		case '\n', '\r', '?', '!', ';', ']':
			return 0, 0, false
		case '.':
			dot = true
		}
		end -= size
	}
	start := end
	for start > 0 {
		if c := t[start-1]; c < utf8.RuneSelf {
			if !isAlnum(c) {
				break
			}
			start--
			continue
		}
		r, size := utf8.DecodeLastRuneInString(t[:start])
		if !isWordRune(r) {
			break
		}
		start -= size
	}
	if start == end || dot && utf8.RuneCountInString(t[start:end]) > 4 {
		return 0, 0, false // no word, or a sentence ended with it
	}
	return start, end, true
}
