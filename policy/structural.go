package policy

import (
	"net/netip"
	"strings"
	"unicode"
)

// structural runs the byte scan of a region for the detectors that have
// no keyword: emails (around '@'), numbers (cards, IPv4 addresses,
// phones), IBANs and IPv6 addresses. Each position is looked at once: a
// candidate's scan resumes after it, and the rest of a word is skipped.
func (s *scan) structural(reg span, out []finding) []finding {
	next := 0 // the next marker
	for i := reg.start; i < reg.end; {
		for next < len(s.markers) && s.markers[next].start < i {
			next++
		}
		stop := reg.end
		if next < len(s.markers) {
			if s.markers[next].start == i {
				i = s.markers[next].end // what a marker holds is no number or address
				continue
			}
			stop = min(stop, s.markers[next].start)
		}
		if i = s.skipInert(i, stop); i < stop {
			i, out = s.structuralAt(i, out)
		}
	}
	return out
}

// skipInert returns the first position in [i, stop) where structuralAt
// may find something, or stop. Most bytes of a text start nothing — the
// rest of a word, spaces, most punctuation, words of letters that can
// start neither an IPv6 address nor an IBAN — and passing over them here,
// without calls, is much of what makes the scan fast; structuralAt would
// only step past them. (structuralAt passes a word's rest whole, past
// stop; a marker starts with '[', never inside a word, so stopping there
// changes nothing.)
func (s *scan) skipInert(i, stop int) int {
	t := s.text
	for ; i < stop; i++ {
		class := byteClass[t[i]]
		if class&classWord != 0 {
			if i > 0 && isWord(t[i-1]) {
				continue // the rest of a word
			}
			if class&classDigit != 0 || ipv6MayStart(t, i) || ibanMayStart(t, i) {
				return i
			}
			continue // what is left of the word is passed over as its rest
		}
		if class&classOpener != 0 {
			return i
		}
	}
	return i
}

// ipv6MayStart: an address may start at i, at the beginning of a word or
// of "::", as wordStart reads one — a hex digit or colon, not after a
// colon or dot, and followed by what an address is made of.
func ipv6MayStart(t string, i int) bool {
	c := t[i]
	return (isHex(c) || c == ':') && (i == 0 || t[i-1] != ':' && t[i-1] != '.') &&
		i+1 < len(t) && (isHex(t[i+1]) || t[i+1] == ':' || t[i+1] == '.')
}

// structuralAt looks at the byte at i and returns where the scan resumes.
func (s *scan) structuralAt(i int, out []finding) (int, []finding) {
	t := s.text
	switch c := t[i]; {
	case c == '@':
		return i + 1, s.email(i, i+1, out)
	case c == '%' && strings.HasPrefix(t[i:], "%40"): // a URL-encoded @
		return i + 3, s.email(i, i+3, out)
	case isWord(c) && s.wordBefore(i):
		end := i + 1
		for end < len(t) && isWord(t[end]) {
			end++ // the rest of a word starts nothing
		}
		return end, out
	case s.wordBefore(i): // after a word: no "::", no "+1 …"
	case isAlnum(c) || c == ':':
		return s.wordStart(i, out)
	case (c == '+' || c == '(') && i+1 < len(t) && isDigit(t[i+1]):
		end, out := s.number(i, out)
		return max(end, i+1), out
	}
	return i + 1, out
}

// wordStart looks at a word (or a "::") that starts at i: an IPv6
// address, a number, an IBAN. It returns where the scan resumes.
func (s *scan) wordStart(i int, out []finding) (int, []finding) {
	t := s.text
	c := t[i]
	if ipv6MayStart(t, i) {
		if end, ok := s.ipv6(i); ok {
			return end, append(out, finding{start: i, end: end, kind: KindIPAddress, priority: priorityPII})
		}
	}
	if isDigit(c) {
		end, out := s.number(i, out)
		return max(end, i+1), out
	}
	if isAlpha(c) {
		return s.iban(i, out)
	}
	return i + 1, out
}

// email finds an address around the '@' at [at, atEnd) ("%40" in a URL):
// a local part of letters, digits and ._%+- (any language's letters
// included), a domain of labels and a top-level domain of two or more
// letters.
func (s *scan) email(at, atEnd int, out []finding) []finding {
	start, end := s.emailLocalStart(at), s.emailDomainEnd(atEnd)
	if start == at || end <= atEnd {
		return out
	}
	local, domain := s.text[start:at], s.text[atEnd:end]
	if len(local) > maxLocalPart || len(domain) > maxDomain || !validLetters(local) || !validLetters(domain) || strings.HasSuffix(local, ".") || !validDomain(domain) || s.notAnAddress(end, domain) {
		return out
	}
	return append(out, finding{start: s.spelledOutLocalStart(start), end: end, kind: KindEmail, priority: priorityPII})
}

// An address's local part holds at most 64 bytes, its domain 255 (RFC
// 5321): longer runs are no address, and are not read further.
const (
	maxLocalPart = 64
	maxDomain    = 255
)

func (s *scan) emailLocalStart(at int) int {
	t := s.text
	start := at
	for start > 0 && at-start <= maxLocalPart {
		c := t[start-1]
		if !isAlnum(c) && strings.IndexByte("._%+-", c) < 0 && c < 0x80 {
			break
		}
		start--
	}
	for start < at && t[start] == '.' {
		start++
	}
	return start
}

func (s *scan) emailDomainEnd(from int) int {
	t := s.text
	end := from
	for end < len(t) && end-from <= maxDomain && (isAlnum(t[end]) || t[end] == '.' || t[end] == '-' || t[end] >= 0x80) {
		end++
	}
	for end > from && (t[end-1] == '.' || t[end-1] == '-') {
		end--
	}
	return end
}

// validDomain: labels, and a top-level domain of two or more letters that
// is not a file's extension (or an internationalised one, xn--…).
func validDomain(domain string) bool {
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || strings.Contains(domain, "..") {
		return false
	}
	tld := domain[dot+1:]
	if len([]rune(tld)) < 2 || fileExtensions[strings.ToLower(tld)] {
		return false
	}
	if punycode, ok := strings.CutPrefix(strings.ToLower(tld), "xn--"); ok {
		return punycode != "" && isIdentifier(strings.ReplaceAll(punycode, "-", "_")) // an internationalised TLD, in ASCII
	}
	for _, r := range tld {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// fileExtensions end file names, never a domain (none is a top-level
// domain): "icon@2x.png", "logo@3x.webp".
var fileExtensions = map[string]bool{
	"png": true, "jpg": true, "jpeg": true, "gif": true, "svg": true, "webp": true, "ico": true, "bmp": true,
	"tif": true, "tiff": true, "pdf": true, "css": true, "js": true, "mjs": true, "cjs": true, "ts": true,
	"tsx": true, "jsx": true, "json": true, "txt": true, "html": true, "htm": true, "yaml": true, "yml": true,
	"toml": true, "lock": true, "scss": true, "map": true, "woff": true, "woff2": true, "ttf": true, "otf": true,
	"mp3": true, "mp4": true, "wav": true, "avi": true, "mkv": true, "gz": true, "tgz": true, "bz2": true,
	"xz": true, "rar": true, "exe": true, "dll": true, "jar": true, "war": true, "class": true, "pyc": true,
	"cpp": true, "hpp": true, "rb": true, "java": true, "kt": true, "swift": true, "vue": true, "php": true,
	"ini": true, "cfg": true, "conf": true, "xml": true, "csv": true, "tsv": true, "log": true, "bak": true,
	"tmp": true, "swp": true, "sql": true, "db": true, "sqlite": true, "heic": true, "avif": true,
}

// notAnAddress: a git remote ("git@github.com:acme/api.git", an scp
// path), or an asset at a pixel density ("icon@2x.png").
func (s *scan) notAnAddress(end int, domain string) bool {
	t := s.text
	if end+1 < len(t) && t[end] == ':' && !isSpace(t[end+1]) {
		return true
	}
	label := domain[:strings.IndexByte(domain, '.')]
	return len(label) >= 2 && label[len(label)-1] == 'x' && isDigit(label[0]) && strings.Trim(label[:len(label)-1], "0123456789.") == ""
}

// spelledOutDots are the dots of a local part written out to dodge
// scrapers: "maria dot lopez@example.com".
var spelledOutDots = []string{" dot ", "(dot)", "[dot]", "{dot}", " (dot) ", " [dot] ", " {dot} "}

// spelledOutLocalStart widens an address's start over the parts of its
// local part joined by spelled-out dots, which would leak a first name.
func (s *scan) spelledOutLocalStart(start int) int {
	from := start
	for from-start <= maxLocalPart {
		before := start
		for _, d := range spelledOutDots {
			if start >= len(d) && s.lowerText[start-len(d):start] == d {
				before = start - len(d)
				break
			}
		}
		if before == start {
			return start
		}
		w := before
		for w > 0 && (isAlnum(s.text[w-1]) || strings.IndexByte("._+-", s.text[w-1]) >= 0) {
			w--
		}
		if w == before {
			return start
		}
		start = w
	}
	return start
}

// validLetters reports whether the non-ASCII runes of s are letters or
// marks (a unicode address), not punctuation or symbols.
func validLetters(s string) bool {
	for _, r := range s {
		if r >= 0x80 && !isLetterRune(r) {
			return false
		}
	}
	return true
}

func isLetterRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) }

// ipv6 reads an IPv6 address starting at i: a run of hex digits, colons
// and (for an embedded IPv4) dots, not glued to a word, that parses as one
// and has at least three groups — so "std::vector", "a::b" or a C++ scope
// stay code — or starts in a range addresses are given from (global,
// unique local, link-local, multicast: "fe80::1", "2001:db8::/32"). A zone
// ("fe80::1%eth0") is part of the address.
func (s *scan) ipv6(i int) (int, bool) {
	end, ok := s.ipv6Extent(i)
	if !ok {
		return 0, false
	}
	addr, err := netip.ParseAddr(s.text[i:end])
	if err != nil || !addr.Is6() || addr.IsLoopback() || addr.IsUnspecified() {
		return 0, false
	}
	written := s.text[i:end]
	if zone := strings.IndexByte(written, '%'); zone >= 0 {
		written = written[:zone]
	}
	groups := 0
	for g := range strings.SplitSeq(written, ":") {
		if g != "" {
			groups++
		}
	}
	return end, groups >= 3 || strings.Contains(written, ".") || allocatedPrefix(addr, written)
}

// allocatedPrefix: an address written with its first group in full, in a
// range addresses are given from — global unicast (2000::/3), unique
// local (fc00::/7), link-local (fe80::/10), multicast (ff00::/8).
func allocatedPrefix(addr netip.Addr, written string) bool {
	if colon := strings.IndexByte(written, ':'); colon < 3 {
		return false
	}
	b := addr.As16()
	first := uint16(b[0])<<8 | uint16(b[1])
	return first&0xe000 == 0x2000 || first&0xfe00 == 0xfc00 || first&0xffc0 == 0xfe80 || first&0xff00 == 0xff00
}

// ipv6Extent reads the run of hex digits, colons and dots at i that may
// be an address (two colons at least) and its zone, without a trailing
// single colon or dot ("at fe80::1:", "is 2001:db8::1."), not glued to
// what follows.
func (s *scan) ipv6Extent(i int) (int, bool) {
	t := s.text
	end, colons := i, 0
	for end < len(t) && end-i < 45 && (isHex(t[end]) || t[end] == '.' || t[end] == ':') {
		if t[end] == ':' {
			colons++
		}
		end++
	}
	if colons < 2 {
		return 0, false
	}
	if end+1 < len(t) && t[end] == '%' && isAlnum(t[end+1]) {
		end++
		for end < len(t) && (isAlnum(t[end]) || t[end] == '_' || t[end] == '.') {
			end++
		}
	}
	if s.wordAfter(end) {
		return 0, false
	}
	return withoutTrailingSeparator(t, i, end), true
}

// withoutTrailingSeparator drops a sentence's dot or colon after an
// address ("at fe80::1:"), not the "::" that ends one ("2001:db8::").
func withoutTrailingSeparator(t string, i, end int) int {
	for end > i && (t[end-1] == '.' || (t[end-1] == ':' && !(end-2 >= i && t[end-2] == ':'))) {
		end--
	}
	return end
}
