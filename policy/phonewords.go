package policy

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Phones written the way their country writes them: a national number
// ("0532 123 45 67", "09171234567", "050-236-8763") says nothing of its
// country, so it is read in the regions of the languages memories are
// written in. A word that calls it a phone — in any of those languages —
// lets any of those regions' numbering plans accept it; without one, only a
// national number with its trunk 0 is read there (see phone).

// phoneLanguage is a language's words for a phone number (lower-case) and
// the regions whose numbers its texts hold.
type phoneLanguage struct {
	words   []string
	regions []string
}

var phoneLanguages = []phoneLanguage{
	{ // en
		words: []string{"phone", "telephone", "tel", "ph", "mobile", "mob", "cell", "cellphone", "whatsapp", "viber",
			"sms", "fax", "landline", "hotline", "call", "dial", "number", "contact"},
		regions: []string{"US", "CA", "GB", "IE", "AU", "NZ", "IN", "ZA", "SG"},
	},
	{ // de
		words: []string{"telefon", "telefonnummer", "tel", "handy", "handynummer", "mobil", "mobilnummer",
			"mobiltelefon", "rufnummer", "festnetz", "anrufen", "nummer", "fax"},
		regions: []string{"DE", "AT", "CH"},
	},
	{ // fr
		words:   []string{"téléphone", "tél", "tel", "portable", "mobile", "numéro", "appeler", "appelez", "fixe", "joindre"},
		regions: []string{"FR", "BE", "CH", "LU", "CA"},
	},
	{ // es
		words:   []string{"teléfono", "telefono", "tel", "móvil", "movil", "celular", "número", "numero", "llamar", "llámame"},
		regions: []string{"ES", "MX", "AR", "CO", "CL", "PE"},
	},
	{ // it
		words:   []string{"telefono", "cellulare", "cell", "numero", "chiamare", "chiama", "tel"},
		regions: []string{"IT", "CH"},
	},
	{ // pt
		words:   []string{"telefone", "telemóvel", "telemovel", "celular", "número", "numero", "ligar", "ligue", "contato", "contacto"},
		regions: []string{"PT", "BR"},
	},
	{ // nl
		words:   []string{"telefoon", "telefoonnummer", "mobiel", "mobiele", "nummer", "bellen", "bel", "gsm", "tel"},
		regions: []string{"NL", "BE"},
	},
	{ // he
		words:   []string{"טלפון", "טל", "נייד", "פלאפון", "מספר"},
		regions: []string{"IL"},
	},
	{ // tr
		words:   []string{"telefon", "tel", "cep", "gsm", "numara", "numarası", "numaram", "arayın", "iletişim"},
		regions: []string{"TR"},
	},
	{ // fil (Tagalog)
		words:   []string{"telepono", "numero", "cellphone", "celphone", "tawag", "tumawag", "mensahe", "text"},
		regions: []string{"PH"},
	},
	{ // pl
		words:   []string{"telefon", "tel", "komórka", "komórkowy", "numer", "zadzwoń"},
		regions: []string{"PL"},
	},
	{ // ru, uk
		words:   []string{"телефон", "тел", "мобильный", "мобільний", "номер", "звоните", "позвоните"},
		regions: []string{"RU", "UA"},
	},
	{ // sv, da, no, fi, cs
		words:   []string{"telefon", "mobil", "nummer", "ring", "puhelin", "numero", "číslo"},
		regions: []string{"SE", "DK", "NO", "FI", "CZ"},
	},
	{ // zh, ja, ko: written without spaces, so found inside a run of characters
		words:   []string{"电话", "電話", "手机", "手機", "号码", "號碼", "携帯", "番号", "전화", "휴대폰", "연락처"},
		regions: []string{"CN", "TW", "HK", "JP", "KR"},
	},
}

var (
	// phoneWords are the words of every language, for the words of a
	// language written with spaces; phoneWordsUnspaced those of the
	// languages written without.
	phoneWords, phoneWordsUnspaced = func() (map[string]bool, []string) {
		spaced := map[string]bool{}
		var unspaced []string
		for _, l := range phoneLanguages {
			for _, w := range l.words {
				r, _ := utf8.DecodeRuneInString(w)
				if unspacedScript(r) {
					unspaced = append(unspaced, w)
				} else {
					spaced[w] = true
				}
			}
		}
		return spaced, unspaced
	}()
	// wordRegions are, per phone word, the regions of its languages, then
	// the other reading regions: a number is most often its word's
	// language's.
	wordRegions = func() map[string][]string {
		out := map[string][]string{}
		for _, l := range phoneLanguages {
			for _, w := range l.words {
				out[w] = appendMissing(out[w], l.regions)
			}
		}
		for w := range out {
			out[w] = appendMissing(out[w], readingRegions)
		}
		return out
	}()
	// readingRegions are the regions of every language, in order; a phone
	// word lets any of them accept a number.
	readingRegions = func() []string {
		var out []string
		for _, l := range phoneLanguages {
			out = appendMissing(out, l.regions)
		}
		return out
	}()
	// trunkZeroRegions are the reading regions whose national numbers
	// start with a trunk 0 that is not part of the number: a number
	// written so is national wherever it stands.
	trunkZeroRegions = func() []string {
		var out []string
		for _, r := range readingRegions {
			if phonenumbers.GetNddPrefixForRegion(r, true) == "0" {
				out = append(out, r)
			}
		}
		return out
	}()
)

// appendMissing appends the regions out does not hold yet.
func appendMissing(out, regions []string) []string {
	for _, r := range regions {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// unspacedScript: Han, kana and Hangul, written without spaces between
// words.
func unspacedScript(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// A phone word stands at most maxPhoneWordReach bytes and maxPhoneWords
// words before its number: "Telefon: …", "my mobile number is …", "Cep
// no: …".
const (
	maxPhoneWordReach = 40
	maxPhoneWords     = 3
)

// weakPhoneWords name a number of any kind as well as a phone's: before a
// bare run of digits, they make it a phone only if it is as long as a
// national number with its area code.
var weakPhoneWords = map[string]bool{
	"number": true, "numero": true, "número": true, "numéro": true, "nummer": true, "numer": true, "numara": true,
	"contact": true, "text": true, "call": true, "מספר": true, "號碼": true, "号码": true, "番号": true,
}

// phoneWordBefore returns the phone word of any language that is one of
// the few words before i on its line ("Telepono: 0917…", "Phone: 532…",
// "My CN number is 138…"). A redaction marker is no word, and ends the
// search.
func (s *scan) phoneWordBefore(i int) (string, bool) {
	t := s.text
	from := max(0, i-maxPhoneWordReach)
	end := i
	for range maxPhoneWords {
		for end > from {
			r, size := utf8.DecodeLastRuneInString(t[:end])
			if r == '\n' || r == '\r' || isWordRune(r) {
				break
			}
			end -= size
		}
		if end <= from || t[end-1] == '\n' || t[end-1] == '\r' {
			return "", false
		}
		start := end
		for start > from {
			r, size := utf8.DecodeLastRuneInString(t[:start])
			if !isWordRune(r) {
				break
			}
			start -= size
		}
		if start == from && from > 0 {
			return "", false // a word cut by the reach
		}
		if _, inside := markerAt(s.markers, start); inside {
			return "", false
		}
		if w, ok := phoneWord(s.lowerText[start:end]); ok {
			return w, true
		}
		end = start
	}
	return "", false
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isAlnum(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsMark(r)
}

// phoneWord returns the phone word w is (w is lower-cased in ASCII); one
// of the languages written without spaces may stand inside a longer run
// ("我的手机号是").
func phoneWord(w string) (string, bool) {
	if phoneWords[w] {
		return w, true
	}
	if isASCII(w) {
		return "", false
	}
	lw := strings.ToLower(w)
	if phoneWords[lw] {
		return lw, true
	}
	for _, u := range phoneWordsUnspaced {
		if strings.Contains(lw, u) {
			return u, true
		}
	}
	return "", false
}

// validInReadingRegions reports a number valid in one of the reading
// regions (but except, where it was read already), read as a national
// number there; the regions of word's languages are tried first.
func validInReadingRegions(tok, word, except string) bool {
	regions := wordRegions[word]
	if regions == nil {
		regions = readingRegions
	}
	return nationalNumberIn(tok, regions, except, false)
}

// nationalMobile reports a bare national number — a trunk 0, then a
// mobile number of one of the regions that write their numbers so
// ("09171234567", "05321234567"): the mobile ranges of a numbering plan are
// narrow enough that such a run is a phone.
func nationalMobile(tok, except string) bool {
	if len(tok) < 10 || len(tok) > 11 || !strings.HasPrefix(tok, "0") || tok[1] == '0' || !isDigits(tok) || countingRun(tok[1:]) {
		return false
	}
	return nationalNumberIn(tok, trunkZeroRegions, except, true)
}

// nationalNumberIn reports a token that, read as a national number of one
// of regions (but those sharing except's calling code, where it was read
// already), is a valid number there — a mobile one, if mobile is set.
func nationalNumberIn(tok string, regions []string, except string, mobile bool) bool {
	digits := phoneDigits(tok)
	exceptCode := phonenumbers.GetCountryCodeForRegion(except)
	for _, region := range regions {
		national := nationalIn(digits, region)
		if phonenumbers.GetCountryCodeForRegion(region) == exceptCode || len(national) >= 32 || nationalLengths[region]&(1<<len(national)) == 0 {
			continue // read already, or the region has no numbers of this length
		}
		num := numberOf(phonenumbers.GetCountryCodeForRegion(region), national)
		if num == nil || !phonenumbers.IsValidNumberForRegion(num, region) {
			continue
		}
		if !mobile || phonenumbers.GetNumberType(num) == phonenumbers.MOBILE {
			return true
		}
	}
	return false
}

// nationalLengths are, per region, the lengths its national numbers may
// have (a bit per length), from libphonenumber's metadata: a region that
// has none of a number's length is skipped before its numbering plan is
// walked.
var nationalLengths = func() map[string]uint32 {
	out := map[string]uint32{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return out
	}
	for _, md := range coll.GetMetadata() {
		var mask uint32
		for _, l := range md.GetGeneralDesc().GetPossibleLength() {
			if l > 0 && l < 32 {
				mask |= 1 << l
			}
		}
		out[md.GetId()] = mask
	}
	return out
}()

// countingRun reports digits that count up or down, or repeat one digit
// ("123456789", "987654321", "111111111"): a placeholder of a number, not
// one.
func countingRun(d string) bool {
	up, down, same := true, true, true
	for i := 1; i < len(d); i++ {
		step := (int(d[i]) - int(d[i-1]) + 10) % 10
		up, down, same = up && step == 1, down && step == 9, same && step == 0
	}
	return up || down || same
}
