package policy

import (
	"slices"
	"strings"
)

// Documentation values are not secrets. A memory of how to configure
// something ("export OPENAI_API_KEY=sk-...xxxx", "postgres://USER:PASS@HOST")
// is worth keeping as it is, so values that stand for a secret without
// being one are left alone: elisions, runs of x or *, <…>, YOUR_…, template
// variables, type names, and the names of variables or arguments.

// placeholderWords are values (lower-cased) that name what would be there.
var placeholderWords = map[string]bool{
	"null": true, "nil": true, "none": true, "true": true, "false": true, "undefined": true, "empty": true,
	"string": true, "str": true, "int": true, "bool": true, "boolean": true, "number": true, "any": true,
	"object": true, "required": true, "optional": true, "redacted": true, "hidden": true, "secret": true,
	"password": true, "token": true, "your_password": true, "yourpassword": true, "your_token": true,
	"your_api_key": true, "env": true, "default": true, "unknown": true, "na": true,
	"n/a": true, "tbd": true, "todo": true, "omitted": true, "masked": true, "sensitive": true,
	"pass": true, "passwd": true, "pwd": true, "pw": true, "user": true, "username": true, "host": true,
	"key": true, "apikey": true, "api_key": true, "api-key": true, "value": true, "placeholder": true,
	"example": true, "dummy": true, "xxx": true, "replace_me": true, "replace-me": true, "replaceme": true,
	"foo": true, "bar": true, "baz": true, "qux": true, "foobar": true, "changeme": true, "change_me": true,
}

// placeholderSegments are words that, as a segment of a value (between
// - _ . or its ends), make it a stand-in: "a-fake-api-key",
// "dummy_token_1", "my-sample-secret".
var placeholderSegments = map[string]bool{
	"fake": true, "dummy": true, "example": true, "sample": true, "placeholder": true, "redacted": true,
	"changeme": true, "foo": true, "foobar": true,
}

// functionWords read as prose, never as a value: "Using --password via the
// CLI", "my password is not set", "das Passwort ist falsch".
var functionWords = map[string]bool{
	"is": true, "was": true, "the": true, "a": true, "an": true, "and": true, "or": true, "for": true,
	"via": true, "to": true, "in": true, "on": true, "with": true, "from": true, "of": true, "as": true,
	"at": true, "by": true, "if": true, "when": true, "not": true, "no": true, "only": true, "must": true,
	"should": true, "will": true, "can": true, "option": true, "flag": true, "argument": true,
	"instead": true, "then": true, "here": true, "there": true, "this": true, "that": true, "it": true,
	"ist": true, "der": true, "die": true, "das": true, "und": true, "oder": true, "nicht": true,
	"est": true, "le": true, "la": true, "les": true, "et": true, "ou": true, "pas": true,
	"es": true, "el": true, "y": true, "o": true, "un": true, "una": true,
}

// secretNameWords are words that, as a segment of an identifier, make the
// identifier the name of a secret (DB_PASSWORD, apiKey, auth_token).
var secretNameWords = map[string]bool{
	"password": true, "passwd": true, "pass": true, "pwd": true, "pw": true, "secret": true, "token": true,
	"key": true, "apikey": true, "credential": true, "credentials": true, "user": true, "username": true,
	"host": true, "auth": true, "pin": true, "passphrase": true,
}

// isPlaceholder reports a value that stands for a secret without being
// one.
func isPlaceholder(v string) bool {
	lv := strings.ToLower(v)
	switch {
	case placeholderWords[lv], isTemplate(v), isElided(v), hasMaskRun(v), isInstruction(lv), repeated(v), isCountingFill(v),
		hasPlaceholderSegment(lv), isKeyOfItsOwn(v), isSecretReference(lv), isYAMLTag(v):
		return true
	}
	return isSecretName(v)
}

// secretReferences begin a value that points at a secret kept elsewhere:
// 1Password's op://vault/item/field, Vault's paths, AWS Secrets Manager
// and Parameter Store ARNs, Azure Key Vault, Doppler, Infisical. The
// pointer is what a memory of the configuration should keep.
var secretReferences = []string{
	"op://", "vault://", "vault:", "arn:aws:secretsmanager:", "arn:aws:ssm:", "ssm://", "secretsmanager://",
	"akv://", "keyvault://", "doppler://", "infisical://", "projects/",
}

// isSecretReference: a (lower-cased) value that points at a secret store.
func isSecretReference(lv string) bool {
	for _, p := range secretReferences {
		if strings.HasPrefix(lv, p) && len(lv) > len(p) {
			return p != "projects/" || strings.Contains(lv, "/secrets/")
		}
	}
	return false
}

// isYAMLTag: a YAML tag stands where a value would (Ansible's "!vault |",
// CloudFormation's "!Ref DBPassword"): an exclamation mark and a name.
func isYAMLTag(v string) bool {
	return len(v) > 1 && v[0] == '!' && isLetters(v[1:])
}

// hasPlaceholderSegment: a segment of the (lower-cased) value is a word
// that says it is a stand-in, beside one that names what it stands for
// ("a-fake-api-key", "dummy_token_1"); a passphrase of words
// ("fake-it-till-you-make-it") names nothing.
func hasPlaceholderSegment(lv string) bool {
	standIn, named := false, false
	for seg := range strings.FieldsFuncSeq(lv, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		standIn = standIn || placeholderSegments[seg]
		named = named || secretNameWords[seg] || seg == "api" || seg == "value"
	}
	return standIn && named
}

// isKeyOfItsOwn: a value that is the next key of a broken or doubled
// assignment ("token:", "api_token =") — a name and its separator.
func isKeyOfItsOwn(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 2 {
		return false
	}
	switch last := v[len(v)-1]; {
	case last == ':':
		return isIdentifier(v[:len(v)-1])
	case last == '=' && v[len(v)-2] == ' ':
		return isIdentifier(strings.TrimRight(v[:len(v)-1], " "))
	}
	return false
}

// isTemplate: a template or a variable (${DB_PASSWORD}, {{ .Values.x }},
// $(cat f), %s, $TOKEN, <your-token>, sk-<key>).
func isTemplate(v string) bool {
	switch {
	case strings.HasPrefix(v, "${"), strings.HasPrefix(v, "{{"), strings.HasPrefix(v, "$("),
		strings.HasPrefix(v, "%s"), strings.HasPrefix(v, "%("), strings.HasPrefix(v, "$") && isIdentifier(v[1:]):
		return true
	}
	if len(v) > 1 && v[0] == '<' && isAlpha(v[1]) {
		return true // markup: <xsd:element name=
	}
	lt := strings.IndexByte(v, '<')
	return lt >= 0 && strings.IndexByte(v[lt:], '>') > 0 || isBracketedName(v)
}

// isBracketedName: a name in brackets or braces stands for a value
// ([PASSWORD], [IP], {SumoAccessKey}, {api_key}, (optional)): letters, with
// _ - . or spaces between words, no digits.
func isBracketedName(v string) bool {
	if len(v) < 3 {
		return false
	}
	switch v[0] {
	case '[':
		if v[len(v)-1] != ']' {
			return false
		}
	case '{':
		if v[len(v)-1] != '}' {
			return false
		}
	case '(':
		if v[len(v)-1] != ')' {
			return false
		}
	default:
		return false
	}
	inner := v[1 : len(v)-1]
	if inner == "" || !isAlpha(inner[0]) {
		return false
	}
	for i := 0; i < len(inner); i++ {
		if c := inner[i]; !isAlpha(c) && strings.IndexByte("_-. ", c) < 0 {
			return false
		}
	}
	return true
}

// isElided: a value shown in part ("sk-...xxxx", "ghp_abc…"), or with
// its secret part cut out ("ops_eyJ..[Redacted]").
func isElided(v string) bool {
	return strings.Contains(v, "...") || strings.Contains(v, "…") || containsFold(v, []string{"[redacted]", "<redacted>"})
}

// elidedAfter reports an elision right where a value stopped: its reading
// ended at the dots of "ops_eyJzaWdu...".
func elidedAfter(t string, i int) bool {
	return strings.HasPrefix(t[i:], "...") || strings.HasPrefix(t[i:], "…")
}

// hasMaskRun: a run of x (four or more), of * (three or more) or of #
// (four or more) stands for hidden characters ("sk-xxxxxxxx",
// "AKIA************", "xoxp-…-####"); a random token holds four x in a
// row about once in twenty thousand.
func hasMaskRun(v string) bool {
	xs, stars, hashes := 0, 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case 'x', 'X':
			xs++
			stars, hashes = 0, 0
		case '*':
			stars++
			xs, hashes = 0, 0
		case '#':
			hashes++
			xs, stars = 0, 0
		default:
			xs, stars, hashes = 0, 0, 0
		}
		if xs >= 4 || stars >= 3 || hashes >= 4 {
			return true
		}
	}
	return strings.Contains(v, "•")
}

// isInstruction: a value that says what to put there (YOUR_API_KEY_HERE,
// your-token, replace-with-your-key, <insert key>).
func isInstruction(lv string) bool {
	for _, p := range []string{"your_", "your-", "your.", "insert_", "insert-", "replace_with", "replace-with", "enter_your", "enter-your", "put_your",
		"replace_me", "replace-me", "change_me", "change-me", "changeme"} {
		if strings.Contains(lv, p) {
			return true
		}
	}
	if strings.HasPrefix(lv, "your") && isLetters(lv) {
		return true // yourpassword, YourTokenHere
	}
	if strings.HasSuffix(lv, "_here") || strings.HasSuffix(lv, "-here") {
		return true
	}
	// Glued: AccessTokenHere, RANDOMSTRINGHERE.
	for _, noun := range []string{"token", "key", "secret", "password", "string", "value"} {
		if strings.HasSuffix(lv, noun+"here") {
			return true
		}
	}
	return false
}

// isSecretName: the name of a variable or argument given as a value
// (password=DB_PASSWORD, auth=api_key, token=authToken), and the
// upper-case role names of documentation (USER:PASS@HOST).
func isSecretName(v string) bool {
	if v == "" || !isAlpha(v[0]) || !isIdentifier(v) {
		return false
	}
	upper, lower, digits := 0, 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case isUpper(c):
			upper++
		case isLower(c):
			lower++
		case isDigit(c):
			digits++
		}
	}
	segments := identifierSegments(v)
	named := false
	for _, seg := range segments {
		if secretNameWords[strings.ToLower(seg)] {
			named = true
		}
	}
	switch {
	case !named:
		return false
	case lower == 0: // DB_PASSWORD, PASS, API_KEY
		return true
	case strings.Contains(v, "_"): // db_password
		return upper == 0
	default: // dbPassword, authToken: camelCase without digits
		return len(segments) > 1 && digits == 0 && isLower(v[0])
	}
}

// identifierSegments splits snake_case and camelCase.
func identifierSegments(v string) []string {
	var out []string
	start := 0
	for i := 1; i <= len(v); i++ {
		if i == len(v) || v[i] == '_' || (isUpper(v[i]) && isLower(v[i-1])) {
			if i > start {
				out = append(out, strings.Trim(v[start:i], "_"))
			}
			start = i
		}
	}
	return out
}

func isLetters(v string) bool {
	for i := 0; i < len(v); i++ {
		if !isAlpha(v[i]) {
			return false
		}
	}
	return v != ""
}

func isIdentifier(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isWord(v[i]) {
			return false
		}
	}
	return true
}

// repeated reports a value of one repeated character ("****", "0000").
func repeated(v string) bool {
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			return false
		}
	}
	return true
}

// isCountingFill reports a value made up by counting: nothing but runs of
// three or more letters or digits that count up, none twice ("abc",
// "AbCeFG123", "abc-123"), whatever the case, joined by - _ or . only. (A block
// repeated, "abcd1234abcd1234", is how test data stands for a key of that
// length: it is read as one.)
func isCountingFill(v string) bool {
	var runs [8]string
	n, run := 0, 0
	for i := 0; i <= len(v); i++ {
		c := byte(0)
		if i < len(v) {
			c = asciiLowerByte(v[i])
		}
		if isAlnum(c) && run > 0 && c == asciiLowerByte(v[i-1])+1 {
			run++
			continue
		}
		if run > 0 {
			r := v[i-run : i]
			if run < minCountingRun || n == len(runs) || slices.ContainsFunc(runs[:n], func(o string) bool { return strings.EqualFold(o, r) }) {
				return false
			}
			runs[n], n = r, n+1
			run = 0
		}
		switch {
		case isAlnum(c):
			run = 1
		case c != 0 && c != '-' && c != '_' && c != '.':
			return false // "abcd efgh ijkl mnop" is how an app password is written
		}
	}
	return n > 0
}

// minCountingRun is the shortest run that counts up ("abc", "123").
const minCountingRun = 3

// isDocumentationValue reports a vendor token shown as documentation shows
// one: elided, masked with x, * or #, or an instruction (sk-...xxxx,
// ghp_xxxxxxxx, sk-YOUR_KEY_HERE, xoxe.xoxp-1-AccessTokenHere).
func isDocumentationValue(v string) bool {
	return isElided(v) || hasMaskRun(v) || isInstruction(strings.ToLower(v)) || isTemplate(v)
}

// maskedAfter reports a token followed right away by an elision or the
// rest of a mask ("xoxp-…-####", "ghp_abc..."): the token's pattern
// stopped where the documentation's stand-in begins.
func maskedAfter(t string, i int) bool {
	return elidedAfter(t, i) || hasMaskRun(t[i:min(len(t), i+4)])
}
