package policy

import "strings"

// Secrets given in sentences, in the languages memories are written in:
// "my password is x", "the wifi password for the office is x", "Passwort
// für den Testserver: x", "la contraseña del router es x", "הסיסמה לוויפי
// היא x". After the key may stand a few words, then a verb or a colon that
// introduces the value; the value must look like a secret.

const (
	maxProseWords = 6  // words between the key and what introduces the value
	maxProseReach = 96 // bytes from the key to the value
)

// proseIntroducers introduce a value: "is", "ist", "est", "es", "è", "é",
// "היא", … (lower-cased).
var proseIntroducers = map[string]bool{
	"is": true, "was": true, "are": true, "=": true, "->": true, "→": true,
	"ist": true, "lautet": true, "war": true, // de
	"est": true, "était": true, // fr
	"es": true, "era": true, // es, it
	"è": true, "e'": true, // it
	"é":     true,              // pt
	"luidt": true,              // nl
	"היא":   true, "הוא": true, // he
}

// proseBreaks end the search: the sentence says something about the secret
// (it must, has, expires, …), not what it is.
var proseBreaks = map[string]bool{
	"must": true, "should": true, "will": true, "would": true, "can": true, "cannot": true, "could": true,
	"may": true, "might": true, "has": true, "have": true, "had": true, "needs": true, "need": true,
	"requires": true, "required": true, "expires": true, "expired": true, "changed": true, "not": true,
	"never": true, "no": true, "muss": true, "soll": true, "wird": true, "kann": true, "nicht": true,
	"doit": true, "peut": true, "pas": true, "debe": true, "puede": true, "deve": true, "pode": true,
	"non": true, "moet": true, "kan": true, "zal": true, "niet": true,
}

// proseValue finds the value a sentence gives the secret a key names.
func (s *scan) proseValue(k secretKey, p int) (finding, bool) {
	if !proseKey(k) {
		return finding{}, false
	}
	words := maxProseWords
	if k.name == "pass" || k.name == "pin" {
		words = 0 // ordinary words too: "boarding pass for flight 12 is 45B"; "my PIN is 4921"
	}
	limit := min(len(s.text), p+maxProseReach)
	i := p
	for n := range words + 1 {
		w, e, ok := s.nextProseWord(i, limit)
		if !ok {
			return finding{}, false
		}
		role := proseRoleOf(s.lowerText[w:e])
		if role != proseIntroduces && n == 0 && words > 0 && k.kind == KindPassword && w == p+1 && !k.quoted && strongSecret(s.text[w:e]) {
			// "password Guest2024!", .netrc's "login ci password x": a
			// value right after the key, shaped like a password.
			return s.proseValueAt(k, w)
		}
		switch role {
		case proseIntroduces:
			return s.proseValueAt(k, e)
		case proseEnds:
			return finding{}, false
		}
		i = e
	}
	return finding{}, false
}

// nextProseWord returns the word from i on the same line, before limit.
func (s *scan) nextProseWord(i, limit int) (int, int, bool) {
	t := s.text
	i = skipBlanks(t, i)
	if i >= limit || t[i] == '\n' || t[i] == '\r' {
		return 0, 0, false
	}
	e := i
	for e < limit && !isSpace(t[e]) {
		e++
	}
	return i, e, true
}

// proseRole is what a word between a key and its value does.
type proseRole int

const (
	proseContinues  proseRole = iota // "for", "the", "office": read on
	proseIntroduces                  // "is", "ist", "Testserver:": the value follows
	proseEnds                        // "must", "length", "reset.": no value follows
)

func proseRoleOf(word string) proseRole {
	switch {
	case proseIntroducers[word], strings.HasSuffix(word, ":"):
		return proseIntroduces
	case proseBreaks[word], excludedKeys[strings.Trim(word, ",")], endsSentence(word):
		return proseEnds
	}
	return proseContinues
}

// strongSecret: a word that is a password by its shape alone — six
// characters or more, letters and digits, or a symbol among letters (not
// the hyphen of "reset-link").
func strongSecret(w string) bool {
	w = strings.TrimRight(w, ".,;:?")
	if len(w) < 6 || functionWords[strings.ToLower(w)] || strings.ContainsAny(w, "()[]{}<>") || isAttribute(w) {
		return false
	}
	letters, digits, symbols := false, false, false
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case isAlpha(c):
			letters = true
		case isDigit(c):
			digits = true
		case c != '-' && c != '_' && c != '\'' && c != '/': // these join words
			symbols = true
		}
	}
	return letters && (digits || symbols)
}

// isAttribute: a word that assigns (name=, placeholder="Password"), as
// markup and command lines do, is no password.
func isAttribute(w string) bool {
	eq := strings.IndexByte(w, '=')
	return eq > 0 && (eq == len(w)-1 || isQuote(w[eq+1])) && isIdentifier(strings.ReplaceAll(w[:eq], "-", "_"))
}

// proseKey: keys that sentences give values to — passwords in any
// language, API keys, tokens and secrets; not a variable's name used as a
// value ("--user '$USER:$PASSWORD' $URL").
func proseKey(k secretKey) bool {
	if k.flag || k.encoded || k.reference || k.loose {
		return false
	}
	return k.kind == KindPassword || k.kind == KindAPIKey || k.kind == KindAWSSecretKey
}

// endsSentence: a word that ends its sentence ("reset.", "done!").
func endsSentence(word string) bool {
	if word == "" {
		return false
	}
	switch word[len(word)-1] {
	case '.', '!', '?':
		return true
	}
	return false
}

// proseFillers may stand between what introduces a value and the value:
// "is now x", "est : x", "ist jetzt x".
var proseFillers = map[string]bool{
	":": true, "-": true, "—": true, "now": true, "still": true, "currently": true, "just": true,
	"jetzt": true, "nun": true, "maintenant": true, "ahora": true, "agora": true, "ora": true, "nu": true,
	"עכשיו": true,
}

// proseValueAt reads the value after what introduced it.
func (s *scan) proseValueAt(k secretKey, i int) (finding, bool) {
	t := s.text
	q := skipBlanks(t, i)
	for range 2 {
		w := q
		for w < len(t) && !isSpace(t[w]) {
			w++
		}
		if !proseFillers[s.lowerText[q:w]] {
			break
		}
		q = skipBlanks(t, w)
	}
	if q >= len(t) {
		return finding{}, false
	}
	if isQuote(t[q]) {
		return s.quotedValue(k, q, valueInProse)
	}
	ve := s.unquotedEnd(q, syntaxPlain)
	if s.codeValue(k, q, ve) {
		return finding{}, false
	}
	return s.secretValue(k, q, ve, valueInProse)
}
