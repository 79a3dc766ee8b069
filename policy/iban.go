package policy

import "strings"

// ibanLengths is the length of an IBAN in each country that has them, as
// the SWIFT IBAN Registry (ISO 13616) lists them: a candidate of another
// length, or of a country without IBANs, is no IBAN.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
	"LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
	"NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
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

// iban reads an IBAN at i: a country code, two check digits and the
// length the country's IBANs have, in letters of one case and digits,
// grouped by single spaces or dashes or not at all, valid by the ISO 13616
// mod-97 checksum. It returns where the scan resumes: after a candidate of
// the country's length, valid or not — the digits of an account number
// with a wrong check digit are no phone number either.
func (s *scan) iban(i int, out []finding) (int, []finding) {
	t := s.text
	if !ibanMayStart(t, i) {
		return i + 1, out
	}
	length, known := ibanLengths[strings.ToUpper(t[i:i+2])]
	if !known {
		return i + 1, out
	}
	compact, end := s.ibanCharacters(i, length)
	if len(compact) != length || s.wordAfter(end) {
		return i + 1, out
	}
	if mixedCase(compact) || !validIBAN(strings.ToUpper(compact)) {
		return end, out
	}
	return end, append(out, finding{start: i, end: end, kind: KindIBAN, priority: priorityPII})
}

// ibanMayStart: two letters and two check digits at i (the letter at i
// the caller's to check).
func ibanMayStart(t string, i int) bool {
	return i+4 <= len(t) && isAlpha(t[i+1]) && isDigit(t[i+2]) && isDigit(t[i+3])
}

// mixedCase reports letters of both cases: an IBAN is written in capitals,
// or (typed quickly) in small letters, not in both ("LV80 bANK …").
func mixedCase(v string) bool {
	upper, lower := false, false
	for i := 0; i < len(v); i++ {
		upper = upper || isUpper(v[i])
		lower = lower || isLower(v[i])
	}
	return upper && lower
}

// ibanCharacters reads up to length letters and digits from i, across
// single spaces or single dashes (one of the two throughout), and returns
// them and where they end.
func (s *scan) ibanCharacters(i, length int) (string, int) {
	t := s.text
	var compact strings.Builder
	var sep byte
	j := i
	for j < len(t) && compact.Len() < length {
		c := t[j]
		switch {
		case isAlnum(c):
			compact.WriteByte(c)
		case (c == ' ' || c == '-') && (sep == 0 || sep == c) && compact.Len() >= 4 && j+1 < len(t) && isAlnum(t[j+1]):
			sep = c
		default:
			return compact.String(), j
		}
		j++
	}
	return compact.String(), j
}
