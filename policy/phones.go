package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// phone validates a candidate with the numbering plans of libphonenumber:
// a number with a country code must be valid there; one without, in the
// policy's region, or — after a phone word of any language — in a region
// of that language (phonewords.go). Without one, a national number with
// its trunk 0 is read in the regions that write numbers so: grouped, it
// must be valid there, and a bare run a mobile number. Numbers that a
// reference word introduces, amounts and dates are not phones; any other
// bare run of digits is one only where the text says it is.
func (s *scan) phone(start int, tok string) bool {
	if strings.Contains(tok, "/") || isoDateTime(tok) || singleDigitGroups(tok) > 2 || s.amountOrItem(start) || s.opensToken(start+len(tok)) {
		return false
	}
	// With its country code a number is a phone wherever it stands ("the
	// receipt went to +1 415 555 2671").
	if strings.HasPrefix(tok, "+") {
		return validPhoneIn(tok, "", phoneShaped(tok))
	}
	if s.introducedBy(start, numberContexts) || s.continuesCode(start) || s.quantity(start+len(tok)) {
		return false
	}
	if intl, ok := internationalPrefix(tok); ok {
		return validPhoneIn(intl, "", phoneShaped(tok))
	}
	national := strings.HasPrefix(strings.TrimLeft(tok, "("), "0")
	shaped := phoneShaped(tok)
	if national || shaped || s.precededBy(start, 32, phoneContexts) {
		// A number written the way phones are ("(555) 123-4567") only has
		// to be possible in the region: libphonenumber would refuse
		// reserved area codes, and redaction errs on masking.
		if validPhoneIn(tok, s.cfg.phoneRegion, shaped) {
			return true
		}
	}
	// A phone word in any language before it: a number of any region
	// its language is written in ("Telefon: 0532 123 45 67", "Phone:
	// 5321234567", "手机 13812345678").
	if word, ok := s.phoneWordBefore(start); ok {
		if !strings.ContainsAny(tok, " -.()") && (countingRun(onlyDigits(tok)) || weakPhoneWords[word] && countDigits(tok) < 9) {
			return false // "the number 5551234 is fake", "number 1234567 of 9999999"
		}
		return validInReadingRegions(tok, word, s.cfg.phoneRegion)
	}
	if !national {
		// Two groups of digits, or a bare run, that nothing calls a phone:
		// an amount, a code, a count.
		return false
	}
	if strings.ContainsAny(tok, " -.()") {
		return validNationalElsewhere(tok, s.cfg.phoneRegion)
	}
	return nationalMobile(tok, s.cfg.phoneRegion)
}

// unitWords, after a number, make it a quantity: "01712345678 ns",
// "0915234567 bytes".
var unitWords = map[string]bool{
	"ns": true, "µs": true, "us": true, "ms": true, "s": true, "sec": true, "secs": true, "seconds": true,
	"b": true, "bytes": true, "kb": true, "mb": true, "gb": true, "kib": true, "mib": true, "gib": true,
	"rows": true, "records": true, "items": true, "tokens": true, "times": true, "requests": true, "users": true,
	"ops": true, "events": true, "lines": true, "chars": true, "characters": true, "words": true, "points": true,
	"px": true, "hz": true, "km": true, "kg": true, "eur": true, "usd": true, "€": true, "$": true,
	"bytes/s": true, "req/s": true, "x": true,
}

// quantity: a unit follows the number at end.
func (s *scan) quantity(end int) bool {
	t := s.text
	i := end
	for i < len(t) && t[i] == ' ' {
		i++
	}
	if i == end {
		return false
	}
	e := i
	for e < len(t) && !isSpace(t[e]) && t[e] != ',' && t[e] != '.' && t[e] != ')' {
		e++
	}
	return e > i && unitWords[strings.ToLower(t[i:e])]
}

// opensToken: digits before a colon and a word start a token ("123456789:AAH…",
// a Telegram bot's), not a phone.
func (s *scan) opensToken(end int) bool {
	return end+1 < len(s.text) && s.text[end] == ':' && (isAlpha(s.text[end+1]) || s.text[end+1] == '_')
}

// amountOrItem: a number after a currency sign or a hash is an amount or
// a numbered item ("$ 1 234 567", "€5551234", "#555-1234").
func (s *scan) amountOrItem(start int) bool {
	before := strings.TrimRight(s.text[max(0, start-8):start], " ")
	r, _ := utf8.DecodeLastRuneInString(before)
	return strings.ContainsRune("$€£¥#", r)
}

// continuesCode: digits after a word of letters and digits continue a
// code ("1Z 999 AA1 01 2345 6784", a parcel's tracking number), and digits
// after a group of digits set apart by more than one space continue a
// longer figure ("EE38 2200 2210  014 5686"): neither is a phone.
func (s *scan) continuesCode(start int) bool {
	t := s.text
	gap := start
	for gap > 0 && (t[gap-1] == ' ' || t[gap-1] == '\t') {
		gap--
	}
	if gap == start || gap == 0 {
		return false
	}
	letters, digits := false, false
	for i := gap - 1; i >= 0 && isAlnum(t[i]); i-- {
		letters = letters || isAlpha(t[i])
		digits = digits || isDigit(t[i])
	}
	if start-gap == 1 && t[gap] == ' ' {
		return letters && digits
	}
	return digits
}

// internationalPrefix reads the 00 that dials abroad from most of the
// world ("0041 21 345 67 89") as the + it stands for.
func internationalPrefix(tok string) (string, bool) {
	if len(tok) < 10 || !strings.HasPrefix(tok, "00") || !isDigit(tok[2]) || tok[2] == '0' {
		return "", false
	}
	return "+" + tok[2:], true
}

// singleDigitGroups counts the groups of one digit: a phone has at most a
// country code and an area or trunk digit so ("+33 6 12 34 56 78"); a run
// like "0 1 1 2 3 5 8 13" is a sequence.
func singleDigitGroups(tok string) int {
	n, run := 0, 0
	for i := 0; i <= len(tok); i++ {
		if i < len(tok) && isDigit(tok[i]) {
			run++
			continue
		}
		if run == 1 {
			n++
		}
		run = 0
	}
	return n
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
	return nationalNumberIn(tok, trunkZeroRegions, except, false)
}

// phoneNumberOf builds the number libphonenumber validates from a token,
// without its general parser (whose patterns cost more than the whole
// rest of a scan): with a leading +, the country calling code is the
// prefix of one to three digits libphonenumber knows; without, it is the
// region's, and the region's trunk prefix is dropped. Italian numbers keep
// their leading zero, as the numbering plan wants.
func phoneNumberOf(tok, region string) *phonenumbers.PhoneNumber {
	digits := phoneDigits(tok)
	if !strings.HasPrefix(tok, "+") {
		if region == "" {
			return nil
		}
		return numberOf(phonenumbers.GetCountryCodeForRegion(region), nationalIn(digits, region))
	}
	for l := 1; l <= 3 && l < len(digits); l++ {
		code, _ := strconv.Atoi(digits[:l])
		if phonenumbers.GetRegionCodeForCountryCode(code) != unknownRegion {
			return numberOf(code, digits[l:])
		}
	}
	return nil
}

// phoneDigits are the digits of a token, without the "(0)" of a trunk
// prefix written after a country code.
func phoneDigits(tok string) string {
	return onlyDigits(strings.Replace(tok, "(0)", "", 1))
}

// nationalIn is the national number digits (written without a country
// code) stand for in region: without the region's trunk prefix.
func nationalIn(digits, region string) string {
	if ndd := phonenumbers.GetNddPrefixForRegion(region, true); ndd != "" && strings.HasPrefix(digits, ndd) && region != "IT" {
		return digits[len(ndd):]
	}
	return digits
}

// numberOf builds the number of a country code and national digits.
func numberOf(cc int, national string) *phonenumbers.PhoneNumber {
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
	if countDigits(tok) == 8 && (strings.Count(tok, "-") == 2 || strings.Count(tok, ".") == 2) {
		return true // 2026-11-30, 30.11.2026
	}
	return len(tok) >= 10 && isDigits(tok[:4]) && tok[4] == '-' && isDigits(tok[5:7]) && tok[7] == '-'
}
