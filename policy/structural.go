package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// structural runs the byte scan for the detectors that have no keyword:
// emails (around '@'), numbers (cards, IPv4 addresses, phones), IBANs and
// IPv6 addresses. Each position is looked at once: a candidate's scan
// resumes after it.
func (s *scan) structural(out []finding) []finding {
	t := s.text
	n := len(t)
	for i := 0; i < n; {
		c := t[i]
		switch {
		case c == '@':
			out = s.email(i, out)
			i++
		case (isHex(c) || c == ':') && !s.wordBefore(i):
			if i == 0 || (t[i-1] != ':' && t[i-1] != '.') {
				if end, ok := s.ipv6(i); ok {
					out = append(out, finding{start: i, end: end, kind: KindIPAddress, priority: priorityPII})
					i = end
					continue
				}
			}
			if isDigit(c) {
				var end int
				end, out = s.number(i, out)
				i = max(end, i+1)
				continue
			}
			if isUpper(c) {
				out = s.iban(i, out)
			}
			i++
		case (c == '+' || c == '(') && !s.wordBefore(i) && i+1 < n && isDigit(t[i+1]):
			var end int
			end, out = s.number(i, out)
			i = max(end, i+1)
		case isUpper(c) && !s.wordBefore(i):
			out = s.iban(i, out)
			i++
		default:
			i++
		}
	}
	return out
}

// email finds an address around the '@' at at: a local part of letters,
// digits and ._%+- (any language's letters included), a domain of labels
// and a top-level domain of two or more letters.
func (s *scan) email(at int, out []finding) []finding {
	t := s.text
	start := at
	for start > 0 {
		c := t[start-1]
		if isAlnum(c) || strings.IndexByte("._%+-", c) >= 0 || c >= 0x80 {
			start--
			continue
		}
		break
	}
	end := at + 1
	for end < len(t) {
		c := t[end]
		if isAlnum(c) || c == '.' || c == '-' || c >= 0x80 {
			end++
			continue
		}
		break
	}
	for end > at+1 && (t[end-1] == '.' || t[end-1] == '-') {
		end--
	}
	for start < at && t[start] == '.' {
		start++
	}
	if start == at || end <= at+1 {
		return out
	}
	local, domain := t[start:at], t[at+1:end]
	if !validLetters(local) || !validLetters(domain) || strings.HasSuffix(local, ".") {
		return out
	}
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 {
		return out
	}
	tld := domain[dot+1:]
	if len([]rune(tld)) < 2 || strings.Contains(domain, "..") {
		return out
	}
	for _, r := range tld {
		if !unicode.IsLetter(r) {
			return out
		}
	}
	return append(out, finding{start: start, end: end, kind: KindEmail, priority: priorityPII})
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
// stay code.
func (s *scan) ipv6(i int) (int, bool) {
	t := s.text
	end, colons := i, 0
	for end < len(t) && end-i < 45 {
		c := t[end]
		if isHex(c) || c == '.' {
			end++
			continue
		}
		if c == ':' {
			colons++
			end++
			continue
		}
		break
	}
	if colons < 2 {
		return 0, false
	}
	for end > i && (t[end-1] == '.' || (t[end-1] == ':' && !(end-2 >= i && t[end-2] == ':'))) {
		end--
	}
	if s.wordAfter(end) || (end < len(t) && (t[end] == ':' || t[end] == '.')) {
		return 0, false
	}
	addr, err := netip.ParseAddr(t[i:end])
	if err != nil || !addr.Is6() {
		return 0, false
	}
	groups := 0
	for g := range strings.SplitSeq(t[i:end], ":") {
		if g != "" {
			groups++
		}
	}
	if groups < 3 && !strings.Contains(t[i:end], ".") {
		return 0, false
	}
	return end, true
}

// numberContexts are words that make the number after them a reference of
// some kind, not a phone: "order 555-123-4567", "tracking no. 1Z…".
var numberContexts = []string{
	"order", "orders", "tracking", "reference", "ref", "invoice", "inv", "receipt", "transaction", "txn",
	"confirmation", "booking", "shipment", "parcel", "serial", "sku", "isbn", "po", "ticket", "case",
	"account", "acct", "id", "ids", "build", "version", "ver", "v", "release", "pr", "issue", "item",
	"model", "part", "policy", "claim", "member", "customer", "employee", "patient", "record", "batch",
	"lot", "job", "request", "req", "incident", "bug", "commit", "row", "page", "line", "code", "pin",
}

// phoneContexts make a bare run of digits (no separators, no +) a phone.
var phoneContexts = []string{
	"phone", "tel", "telephone", "call", "mobile", "cell", "cellphone", "whatsapp", "sms", "text", "fax",
	"number", "contact", "reach", "ring", "dial", "landline", "hotline", "phoned", "at",
}

// versionContexts make a dotted quad a version, not an address.
var versionContexts = []string{"version", "ver", "v", "release", "build", "tag", "upgrade", "upgraded", "update", "updated", "to", "from", "firmware", "kernel", "go", "node", "python", "java", "npm"}

// ipContexts make a dotted quad of small numbers an address after all.
var ipContexts = []string{"ip", "address", "addr", "server", "host", "dns", "ping", "gateway", "router", "connect", "connected", "from", "at"}

// fallbackRegions are tried for a national-format number (a leading trunk
// 0 and separators) that the policy's region does not accept: regions
// whose trunk prefix is 0 and is not part of the national number.
var fallbackRegions = []string{"GB", "DE", "FR", "IN", "AU", "JP", "NL", "IE", "BR", "NZ", "ZA", "KR"}

// number reads a numeric token at i — digits with single separators (space,
// -, ., /, parentheses) and a leading + — and reports it as an IPv4
// address, a payment card or a phone when it validates as one. It returns
// where the token ends.
func (s *scan) number(i int, out []finding) (int, []finding) {
	t := s.text
	n := len(t)
	j, digits, lastDigit := i, 0, -1
	for j < n && j-i < 48 {
		c := t[j]
		switch {
		case isDigit(c):
			digits++
			lastDigit = j
			j++
			continue
		case c == '+' && j == i:
			j++
			continue
		case c == '(' || c == ')' || c == '-' || c == '.' || c == ' ' || c == '/':
			k := j + 1
			if k < n && (t[k] == ' ' || t[k] == '-' || t[k] == '(') && t[k] != c {
				k++
			}
			if k < n && isDigit(t[k]) {
				j = k
				continue
			}
		}
		break
	}
	if digits == 0 {
		return i + 1, out
	}
	end := lastDigit + 1
	if end < n && t[end] == ')' && strings.Contains(t[i:end], "(") {
		end++
	}
	// A number glued to letters or to more digits is part of something
	// else (an id, a hash, a longer figure).
	if s.wordAfter(end) || (end+1 < n && (t[end] == '.' || t[end] == ',') && isDigit(t[end+1])) {
		return end, out
	}
	tok := t[i:end]
	if f, ok := s.ipv4(i, end, tok); ok {
		return end, append(out, f)
	}
	if digits >= 13 && digits <= 19 && validCardToken(tok) {
		return end, append(out, finding{start: i, end: end, kind: KindPaymentCard, priority: priorityPII})
	}
	if digits >= 7 && digits <= 15 && s.phone(i, tok) {
		return end, append(out, finding{start: i, end: end, kind: KindPhone, priority: priorityPII})
	}
	// A longer run may hold a card or phone after a leading figure ("card
	// 1 4111 1111 1111 1111"): try from each later digit group.
	if digits > 13 {
		rest := digits
		for k := i + 1; k < end && rest >= 13; k++ {
			if isDigit(t[k-1]) {
				rest--
			}
			if isDigit(t[k]) && !isDigit(t[k-1]) && t[k-1] != '.' && rest <= 19 {
				sub := t[k:end]
				if validCardToken(sub) {
					return end, append(out, finding{start: k, end: end, kind: KindPaymentCard, priority: priorityPII})
				}
			}
		}
	}
	return end, out
}

// ipv4 reports a dotted quad as an address — unless its context makes it a
// version ("version 1.2.3.4", "v1.2.3.4", a quad of single digits that
// nothing calls an address).
func (s *scan) ipv4(start, end int, tok string) (finding, bool) {
	if strings.Count(tok, ".") != 3 || strings.ContainsAny(tok, " -/()+") {
		return finding{}, false
	}
	addr, err := netip.ParseAddr(tok)
	if err != nil || !addr.Is4() {
		return finding{}, false
	}
	if start > 0 && (s.text[start-1] == 'v' || s.text[start-1] == 'V') {
		return finding{}, false
	}
	if s.precededBy(start, 24, versionContexts) && !s.precededBy(start, 24, ipContexts) {
		return finding{}, false
	}
	small := true
	for p := range strings.SplitSeq(tok, ".") {
		if len(p) > 1 {
			small = false
		}
	}
	if small && !s.precededBy(start, 24, ipContexts) {
		return finding{}, false
	}
	return finding{start: start, end: end, kind: KindIPAddress, priority: priorityPII}, true
}

// validCardToken: 13 to 19 digits, separated (if at all) by single spaces
// or dashes, an issuer prefix of a card network, and the Luhn checksum.
func validCardToken(tok string) bool {
	if strings.ContainsAny(tok, "./()+") {
		return false
	}
	d := onlyDigits(tok)
	if len(d) < 13 || len(d) > 19 || !cardIssuer(d) {
		return false
	}
	return luhn(d)
}

// cardIssuer reports whether digits start like a payment card of a major
// network (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro).
func cardIssuer(d string) bool {
	p2 := d[:2]
	switch {
	case d[0] == '4':
		return len(d) == 13 || len(d) == 16 || len(d) == 19
	case p2 >= "51" && p2 <= "55", d[:4] >= "2221" && d[:4] <= "2720":
		return len(d) == 16
	case p2 == "34" || p2 == "37":
		return len(d) == 15
	case strings.HasPrefix(d, "6011"), p2 == "65", d[:3] >= "644" && d[:3] <= "649":
		return len(d) >= 16
	case d[:4] >= "3528" && d[:4] <= "3589":
		return len(d) >= 16
	case p2 == "36" || p2 == "38" || p2 == "39" || (d[:3] >= "300" && d[:3] <= "305"):
		return len(d) >= 14
	case p2 == "62":
		return len(d) >= 16
	case p2 == "50" || (p2 >= "56" && p2 <= "69"):
		return len(d) >= 12
	}
	return false
}

// phone validates a candidate with the numbering plans of libphonenumber:
// a number with a country code must be valid there; one without, in the
// policy's region (or, written in a national format with a trunk 0, in a
// common region). Numbers that a reference word introduces, amounts and
// dates are not phones; a bare run of digits is one only where the text
// says it is.
func (s *scan) phone(start int, tok string) bool {
	if strings.Contains(tok, "/") || isoDateTime(tok) {
		return false
	}
	// An amount or a numbered item: "$ 1 234 567", "€5551234", "#555-1234".
	before := strings.TrimRight(s.text[max(0, start-8):start], " ")
	if r, _ := utf8.DecodeLastRuneInString(before); strings.ContainsRune("$€£¥#", r) {
		return false
	}
	if s.precededBy(start, 32, numberContexts) {
		return false
	}
	separated := strings.ContainsAny(tok, " -.()")
	plus := strings.HasPrefix(tok, "+")
	national := strings.HasPrefix(strings.TrimLeft(tok, "("), "0")
	switch {
	case plus, national, phoneShaped(tok):
	case s.precededBy(start, 32, phoneContexts):
	default:
		// Two groups of digits, or a bare run, that nothing calls a phone:
		// an amount, a code, a count.
		return false
	}
	if plus {
		return validPhoneIn(tok, "", phoneShaped(tok))
	}
	// A number written the way phones are ("(555) 123-4567") only has to be
	// possible in the region: libphonenumber would refuse reserved area
	// codes, and redaction errs on masking.
	if validPhoneIn(tok, s.cfg.phoneRegion, phoneShaped(tok)) {
		return true
	}
	if !national || !separated {
		return false
	}
	return validNationalElsewhere(tok, s.cfg.phoneRegion)
}

func validPhoneIn(tok, region string, possibleEnough bool) bool {
	num := phoneNumberOf(tok, region)
	if num == nil {
		return false
	}
	// The possible-length check is cheap; validity walks the numbering
	// plan's patterns (every region of a shared calling code, such as +1).
	return (possibleEnough && phonenumbers.IsPossibleNumber(num)) || phonenumbers.IsValidNumber(num)
}

// validNationalElsewhere checks a national-format number (trunk prefix 0)
// against the common regions that write numbers so: the national number
// is the same digits wherever the 0 is a trunk prefix.
func validNationalElsewhere(tok, except string) bool {
	for _, region := range fallbackRegions {
		if region == except {
			continue
		}
		if num := phoneNumberOf(tok, region); num != nil && phonenumbers.IsValidNumberForRegion(num, region) {
			return true
		}
	}
	return false
}

// phoneNumberOf builds the number libphonenumber validates from a token,
// without its general parser (whose patterns cost more than the whole
// rest of a scan): with a leading +, the country calling code is the
// prefix of one to three digits libphonenumber knows; without, it is the
// region's, and the region's trunk prefix is dropped. Italian numbers keep
// their leading zero, as the numbering plan wants.
func phoneNumberOf(tok, region string) *phonenumbers.PhoneNumber {
	tok = strings.Replace(tok, "(0)", "", 1)
	digits := onlyDigits(tok)
	var cc int
	var national string
	if strings.HasPrefix(tok, "+") {
		for l := 1; l <= 3 && l < len(digits); l++ {
			code, _ := strconv.Atoi(digits[:l])
			if phonenumbers.GetRegionCodeForCountryCode(code) != unknownRegion {
				cc, national = code, digits[l:]
				break
			}
		}
		if cc == 0 {
			return nil
		}
	} else {
		if region == "" {
			return nil
		}
		cc = phonenumbers.GetCountryCodeForRegion(region)
		national = digits
		if ndd := phonenumbers.GetNddPrefixForRegion(region, true); ndd != "" && strings.HasPrefix(national, ndd) && region != "IT" {
			national = national[len(ndd):]
		}
	}
	if national == "" || len(national) > 17 {
		return nil
	}
	n, err := strconv.ParseUint(national, 10, 64)
	if err != nil {
		return nil
	}
	code := int32(cc)
	num := &phonenumbers.PhoneNumber{CountryCode: &code, NationalNumber: &n}
	if leading := len(national) - len(strings.TrimLeft(national, "0")); leading > 0 {
		yes, zeros := true, int32(leading)
		num.ItalianLeadingZero, num.NumberOfLeadingZeros = &yes, &zeros
	}
	return num
}

// unknownRegion is libphonenumber's region of an unknown calling code.
const unknownRegion = "ZZ"

// phoneShaped reports a token written as phones are: an area code in
// parentheses, or three or more groups of digits.
func phoneShaped(tok string) bool {
	if strings.Contains(tok, "(") {
		return true
	}
	groups := strings.FieldsFunc(tok, func(r rune) bool { return r == ' ' || r == '-' || r == '.' })
	return len(groups) >= 3 && len(groups[len(groups)-1]) >= 4
}

// isoDateTime recognises dates and times, which look like phone numbers to
// a scan of digits and separators.
func isoDateTime(tok string) bool {
	d := onlyDigits(tok)
	if len(d) == 8 && (strings.Count(tok, "-") == 2 || strings.Count(tok, ".") == 2) {
		return true // 2026-11-30, 30.11.2026
	}
	return len(tok) >= 10 && tok[4] == '-' && tok[7] == '-'
}

// iban reads an IBAN at i: a country code, two check digits and up to 30
// letters and digits (grouped by single spaces or not), valid by the
// ISO 13616 mod-97 checksum. Of several lengths the text allows, the
// longest valid one wins.
func (s *scan) iban(i int, out []finding) []finding {
	t := s.text
	if i+4 > len(t) || !isUpper(t[i+1]) || !isDigit(t[i+2]) || !isDigit(t[i+3]) {
		return out
	}
	var ends []int // positions after each group
	j, chars := i, 0
	for j < len(t) && chars < 34 {
		c := t[j]
		if isUpper(c) || isDigit(c) {
			j++
			chars++
			continue
		}
		if c == ' ' && j+1 < len(t) && (isUpper(t[j+1]) || isDigit(t[j+1])) && chars >= 4 {
			ends = append(ends, j)
			j++
			continue
		}
		break
	}
	ends = append(ends, j)
	for k := len(ends) - 1; k >= 0; k-- {
		end := ends[k]
		if s.wordAfter(end) {
			continue
		}
		if candidate := strings.ReplaceAll(t[i:end], " ", ""); validIBAN(candidate) {
			return append(out, finding{start: i, end: end, kind: KindIBAN, priority: priorityPII})
		}
	}
	return out
}
