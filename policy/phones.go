package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// phone validates a candidate with the numbering plans of libphonenumber:
// a number with a country code must be valid there; one without, in the
// policy's region (or, written in a national format with a trunk 0, in a
// common region). Numbers that a reference word introduces, amounts and
// dates are not phones; a bare run of digits is one only where the text
// says it is.
func (s *scan) phone(start int, tok string) bool {
	if strings.Contains(tok, "/") || isoDateTime(tok) || singleDigitGroups(tok) > 2 || s.amountOrItem(start) {
		return false
	}
	// With its country code a number is a phone wherever it stands ("the
	// receipt went to +1 415 555 2671").
	if strings.HasPrefix(tok, "+") {
		return validPhoneIn(tok, "", phoneShaped(tok))
	}
	if s.introducedBy(start, numberContexts) || s.continuesCode(start) {
		return false
	}
	if intl, ok := internationalPrefix(tok); ok {
		return validPhoneIn(intl, "", phoneShaped(tok))
	}
	national := strings.HasPrefix(strings.TrimLeft(tok, "("), "0")
	if !national && !phoneShaped(tok) && !s.precededBy(start, 32, phoneContexts) {
		// Two groups of digits, or a bare run, that nothing calls a phone:
		// an amount, a code, a count.
		return false
	}
	// A number written the way phones are ("(555) 123-4567") only has to be
	// possible in the region: libphonenumber would refuse reserved area
	// codes, and redaction errs on masking.
	if validPhoneIn(tok, s.cfg.phoneRegion, phoneShaped(tok)) {
		return true
	}
	separated := strings.ContainsAny(tok, " -.()")
	return national && separated && validNationalElsewhere(tok, s.cfg.phoneRegion)
}

// amountOrItem: a number after a currency sign or a hash is an amount or
// a numbered item ("$ 1 234 567", "€5551234", "#555-1234").
func (s *scan) amountOrItem(start int) bool {
	before := strings.TrimRight(s.text[max(0, start-8):start], " ")
	r, _ := utf8.DecodeLastRuneInString(before)
	return strings.ContainsRune("$€£¥#", r)
}

// continuesCode: digits after a word of letters and digits continue a
// code ("1Z 999 AA1 01 2345 6784", a parcel's tracking number), not a
// phone.
func (s *scan) continuesCode(start int) bool {
	t := s.text
	if start < 2 || t[start-1] != ' ' {
		return false
	}
	letters, digits := false, false
	for i := start - 2; i >= 0 && isAlnum(t[i]); i-- {
		letters = letters || isAlpha(t[i])
		digits = digits || isDigit(t[i])
	}
	return letters && digits
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
	if countDigits(tok) == 8 && (strings.Count(tok, "-") == 2 || strings.Count(tok, ".") == 2) {
		return true // 2026-11-30, 30.11.2026
	}
	return len(tok) >= 10 && isDigits(tok[:4]) && tok[4] == '-' && isDigits(tok[5:7]) && tok[7] == '-'
}
