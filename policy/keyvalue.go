package policy

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Key/value secrets: a keyword ("password", "token", "Passwort", …) names a
// secret, and the value that follows it is the secret — in whichever
// syntax it is written. findKeyValue reads the key around the keyword, then
// hands the rest to the reader of the syntax that follows it: an XML
// element, an assignment (JSON, YAML, env files, shells, query and
// connection strings), a command-line flag, or a sentence.

// secretKeyWords are the keywords of key/value secrets; the whole key
// around the keyword decides (see secretKeyKind).
var secretKeyWords = []string{
	"password", "passwd", "pwd", "pw", "passphrase", "passcode", "secret", "api_key", "apikey", "api-key",
	"api key", "access_key", "accesskey", "access-key", "token", "credential", "private_key", "privatekey",
	"accountkey", "pass", "pin", "auth",
	// The languages memories are written in.
	"kennwort", "wachtwoord", "contraseña", "clave", "senha", "mot de passe", "mdp", "סיסמ", "пароль", "Пароль",
	"hasło", "heslo", "lösenord", "salasana", "密码", "パスワード", "비밀번호",
}

// keyRule classifies a key (lower-cased): it names a secret of kind when
// it contains one of contains, is one of exact, or ends with one of
// suffixes. The first rule that matches decides.
type keyRule struct {
	kind     string
	contains []string
	exact    []string
	suffixes []string
}

var keyRules = []keyRule{
	{kind: KindAWSSecretKey, contains: []string{"aws_secret", "secret_access_key", "secretaccesskey"}},
	{kind: KindPassword, contains: []string{
		"password", "passwd", "passphrase", "passcode", "storepass", "keypass", "passwort", "kennwort",
		"wachtwoord", "contraseña", "senha", "mot de passe", "motdepasse", "סיסמ", "пароль", "hasło", "heslo",
		"lösenord", "salasana", "密码", "パスワード", "비밀번호",
	}, exact: []string{"pwd", "pw", "pass", "pin", "mdp", "clave"}, suffixes: []string{"_pwd", "_pw", "_pass", "_pin", "-pass"}},
	{kind: KindAPIKey, contains: []string{"client_secret", "secret_key", "secretkey"}},
	{kind: KindPassword, exact: []string{"secret", "secrets"}, suffixes: []string{"_secret", "-secret"}},
	{kind: KindAPIKey, contains: []string{
		"api_key", "apikey", "api-key", "api key", "access_key", "accesskey", "access-key", "token", "credential",
		"private_key", "privatekey",
	}, exact: []string{"accountkey"}},
}

// keyExclusions end (or are) keys that name something about a secret, not
// the secret: "password_length: 12", "token_url", "max_tokens".
var keyExclusions = []string{
	"length", "len", "policy", "min", "max", "minlength", "maxlength", "expires", "expiry", "expiration",
	"expires_at", "expires_in", "hint", "reset", "changed", "changed_at", "updated", "updated_at", "age",
	"strength", "required", "field", "label", "prompt", "less", "type", "name", "names", "id", "count",
	"url", "uri", "endpoint", "path", "file", "env", "ttl", "lifetime", "validity", "manager", "store",
	"tokens", "ize", "izer", "ization", "ized", "ing", "ed", "s", "able", "enabled", "mode", "format",
	"pattern", "regex", "rule", "rules", "provider", "version", "header", "param", "kind", "limit",
	"location", "ref", "reference", "arn", "vault", "_usage", "usage", "scope", "scopes", "audience",
	"issuer", "algorithm", "alg", "port", "port_", "hash_algorithm", "salt_rounds", "rounds", "cost",
	"iterations", "key_id", "keyid", "secret_name", "secretname", "secret_id", "secretid", "port_number",
	"stdin", "vergessen", "oublié", "olvidada",
}

// excludedKeys is keyExclusions as a set: a key that is one, or whose last
// segment (after _, - or .) is one, names no secret.
var excludedKeys = func() map[string]bool {
	set := map[string]bool{}
	for _, ex := range keyExclusions {
		set[ex] = true
	}
	return set
}()

// gluedExclusions end keys without a separator: "passwordless",
// "tokenizer", "max_tokens", "passport".
var gluedExclusions = []string{"less", "izer", "ization", "ized", "izing", "tokens", "length", "policy", "hint", "expiry", "expiration", "strength", "required", "field", "label", "prompt", "manager", "store", "port", "name", "type", "count", "ref"}

// antiForgeryKeys name a form's anti-forgery token (Rails'
// authenticity_token, Django's csrfmiddlewaretoken, ASP.NET's
// __RequestVerificationToken, X-XSRF-TOKEN): a nonce of one session's
// forms, which gives no access, not a credential.
var antiForgeryKeys = []string{"csrf", "xsrf", "authenticity_token", "requestverificationtoken"}

// secretKeyKind classifies a key (lower-cased): the kind of the secret its
// value is, or "" when it names no secret.
func secretKeyKind(key string) string {
	key = strings.Trim(key, "-_.")
	last := key[strings.LastIndexAny(key, "_-.")+1:]
	if excludedKeys[key] || excludedKeys[last] || gluedExclusion(key, last) {
		return ""
	}
	for _, k := range antiForgeryKeys {
		if strings.Contains(key, k) {
			return ""
		}
	}
	for _, rule := range keyRules {
		if rule.matches(key) {
			return rule.kind
		}
	}
	return ""
}

// gluedExclusion: the key's last segment ends with an exclusion
// ("passwordless", "tokenizer"), unless the key ends with the secret word.
func gluedExclusion(key, last string) bool {
	if strings.HasSuffix(key, "password") || strings.HasSuffix(key, "passwd") {
		return false
	}
	for _, suffix := range gluedExclusions {
		if strings.HasSuffix(last, suffix) {
			return true
		}
	}
	return false
}

func (r keyRule) matches(key string) bool {
	for _, c := range r.contains {
		if strings.Contains(key, c) {
			return true
		}
	}
	for _, e := range r.exact {
		if key == e {
			return true
		}
	}
	for _, suffix := range r.suffixes {
		if strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// secretKey is a key that names a secret.
type secretKey struct {
	start, end int    // where it stands in the text
	name       string // lower-cased
	kind       string
	flag       bool // a command-line flag: --password
	// encoded: the value is a base64 "user:password" (the "auth" of a
	// Docker config.json, npm's _auth).
	encoded bool
	// reference: the key is a variable's value ($PASSWORD, %PASSWORD%),
	// which only an assignment gives a value.
	reference bool
	// quoted: the key stands in quotes ("password"): a string, which a
	// sentence does not give a value by the word after it.
	quoted bool
	// loose: the key names a secret only loosely (SIGNING_KEY, creds,
	// mySecretString): its value must look like one (looksGenerated).
	loose bool
}

// findKeyValue finds the value of a key/value secret. Values that are
// code (a call, a member path, a variable), placeholders or templates are
// not secrets.
func findKeyValue(s *scan, hit, hitEnd int, out []finding) []finding {
	k, ok := s.readKey(hit, hitEnd)
	if !ok {
		return out
	}
	if f, ok := s.valueOfKey(k); ok && !s.genericPairAllowed(k, f) {
		out = append(out, f)
	}
	return out
}

// maxAllowlistValue is how much of a value the generic pair allowlists
// read: they judge the key, and at most a value's first word.
const maxAllowlistValue = 64

// Gitleaks' generic rule allows some key/value pairs by their key — an id
// (credentialsId), a public or CSRF token, a token file, a library's
// coordinates (io.jsonwebtoken:jjwt). Its allowlists that match within a
// key are run once per key classified (the key is then no secret's); those
// that read on into the value are run on each pair, and count only where
// they match from within the key, not inside the value alone.
var (
	compiledGenericKeyAllowlists  = sync.OnceValue(func() []compiledAllowlist { return compileAllowlists(genericKeyAllowlists) })
	compiledGenericPairAllowlists = sync.OnceValue(func() []compiledAllowlist { return compileAllowlists(genericPairAllowlists) })
)

// genericKeyAllowed reports a key (or the words before a value) the
// generic rule allows.
func genericKeyAllowed(key string) bool {
	for _, a := range compiledGenericKeyAllowlists() {
		if a.allows(key, key, 0, len(key)) {
			return true
		}
	}
	return false
}

// genericPairAllowed reports a key/value pair the generic rule allows by
// what stands before the value: the words between key and value ("the
// usernamePassword(credentialsId: …)"), or an expression that reads on
// from the key into the value.
func (s *scan) genericPairAllowed(k secretKey, f finding) bool {
	if f.start < k.end {
		return false // a literal compared with the key from its left ("…" == password): nothing stands between
	}
	if between := s.text[k.end:f.start]; strings.IndexFunc(between, unicode.IsLetter) >= 0 && genericKeyAllowed(between) {
		return true
	}
	pair, value := s.text[k.start:min(f.end, f.start+maxAllowlistValue)], f.start-k.start
	for _, a := range compiledGenericPairAllowlists() {
		for i, re := range a.res {
			if len(a.required[i]) > 0 && !containsFold(pair, a.required[i]) {
				continue
			}
			if loc := re.FindStringIndex(pair); loc != nil && loc[0] < value {
				return true
			}
		}
	}
	return false
}

// readKey reads the whole key around a keyword hit and classifies it.
func (s *scan) readKey(hit, hitEnd int) (secretKey, bool) {
	start, end, ok := s.keyBounds(hit, hitEnd)
	if !ok || (span{start, end}) == s.lastKey || s.insideName(start) {
		return secretKey{}, false
	}
	s.lastKey = span{start, end}
	name := s.lowerText[start:end]
	// Most keys are a keyword alone ("the password is …"): classified
	// once, when the detectors are built.
	k, bare := bareKeywordKeys[name]
	if !bare {
		k = cachedKey(s.text[start:end], name)
	}
	if !bare && k.kind != "" && namesStandIn(s.text[start:end]) {
		return secretKey{}, false
	}
	k.start, k.end = start, end
	k.reference = start > 0 && (s.text[start-1] == '$' || s.text[start-1] == '%')
	k.quoted = start > 0 && isQuote(s.text[start-1])
	return k, k.kind != ""
}

// standInWords, as a word of a key (fake_token, mockApiKey,
// invalidPassword), say its value is not a real one: a test's or a
// document's stand-in. ("test" is not one of them: test keys of live
// services, such as Stripe's, are credentials.) So does a negation before
// a word of validity (nonMatchingToken, notValidKey) — not "non" alone,
// which NON_PROD_PASSWORD holds.
var (
	standInWords = map[string]bool{
		"fake": true, "dummy": true, "mock": true, "example": true, "sample": true, "placeholder": true,
		"invalid": true, "wrong": true, "bad": true, "bogus": true, "expired": true, "revoked": true,
	}
	negations     = map[string]bool{"non": true, "not": true}
	validityWords = map[string]bool{"matching": true, "valid": true, "existent": true, "existing": true, "working": true}
)

// maxStandInWord is the longest word of the sets above.
const maxStandInWord = len("placeholder")

// namesStandIn reports a key one of whose words — split at _ - . and
// where camelCase turns upper — says its value is a stand-in.
func namesStandIn(key string) bool {
	var buf [maxStandInWord]byte
	start := 0
	negated := false
	for i := 1; i <= len(key); i++ {
		if i < len(key) && !isKeySeparator(key[i]) && !(isUpper(key[i]) && isLower(key[i-1])) {
			continue
		}
		word := key[start:i]
		start = i
		for len(word) > 0 && isKeySeparator(word[0]) {
			word = word[1:]
		}
		if len(word) < 3 || len(word) > maxStandInWord {
			negated = false
			continue
		}
		lower := buf[:len(word)]
		for j := 0; j < len(word); j++ {
			lower[j] = asciiLowerByte(word[j])
		}
		if standInWords[string(lower)] || negated && validityWords[string(lower)] {
			return true
		}
		negated = negations[string(lower)]
	}
	return false
}

func isKeySeparator(c byte) bool { return c == '_' || c == '-' || c == '.' }

// insideName reports a key that is a segment of a colon-separated name
// (arn:aws:secretsmanager:…:secret:prod/db, urn:x:token:…): glued to the
// segment before it, it names nothing.
func (s *scan) insideName(start int) bool {
	return start >= 2 && s.text[start-1] == ':' && isWord(s.text[start-2])
}

// keyCache holds classified keys: keys repeat (db_password,
// authorization, passport), and classifying one walks every rule. It is
// bounded, so that texts of ever new keys cannot grow it.
var (
	keyCache     sync.Map // name → secretKey
	keyCacheSize atomic.Int32
)

const maxCachedKeys = 4096

// cachedKey classifies a key as written (raw: camelCase tells a loose
// key's words apart) and ASCII-lower-cased (name).
func cachedKey(raw, name string) secretKey {
	if k, ok := keyCache.Load(raw); ok {
		return k.(secretKey)
	}
	// Not slices of the whole text, which the cache would keep.
	raw, name = strings.Clone(raw), strings.Clone(name)
	lower := name
	if !isASCII(name) {
		lower = strings.ToLower(name)
	}
	k := classifyKey(lower)
	if k.kind == "" {
		k = looseKey(raw, lower)
	}
	if len(raw) <= 48 && keyCacheSize.Load() < maxCachedKeys && keyCacheSize.Add(1) <= maxCachedKeys {
		keyCache.Store(raw, k)
	}
	return k
}

// classifyKey makes a secretKey of a key's lower-cased name.
func classifyKey(name string) secretKey {
	k := secretKey{name: name, flag: strings.HasPrefix(name, "-")}
	switch bare := strings.TrimLeft(name, "-"); {
	case bare == "auth" || bare == "_auth":
		k.kind, k.encoded = KindAuthHeader, true
	default:
		k.kind = secretKeyKind(name)
	}
	if k.kind != "" && genericKeyAllowed(name) {
		k.kind = ""
	}
	return k
}

// bareKeywordKeys are the keywords classified as keys of their own.
var bareKeywordKeys = func() map[string]secretKey {
	m := map[string]secretKey{}
	for _, kw := range secretKeyWords {
		m[kw] = classifyKey(strings.ToLower(kw))
	}
	return m
}()

// keyBounds widens a keyword hit to the key it is part of: letters of any
// language, digits and _ - . (DB_PASSWORD, spring.datasource.password,
// --password, הסיסמה). A run longer than any key is none (and reading it
// for each of its keywords would take time in its square).
func (s *scan) keyBounds(hit, hitEnd int) (int, int, bool) {
	t := s.text
	start, end := hit, hitEnd
	for start > 0 && hitEnd-start <= maxKeyLen {
		if isKeyChar(t[start-1]) {
			start--
			continue
		}
		r, size := utf8.DecodeLastRuneInString(t[:start])
		if r < utf8.RuneSelf || !unicode.IsLetter(r) {
			break
		}
		start -= size
	}
	for end < len(t) && end-start <= maxKeyLen {
		if isKeyChar(t[end]) {
			end++
			continue
		}
		r, size := utf8.DecodeRuneInString(t[end:])
		if r < utf8.RuneSelf || !unicode.IsLetter(r) {
			break
		}
		end += size
	}
	return start, end, end-start <= maxKeyLen
}

// maxKeyLen is the longest key read.
const maxKeyLen = 64

func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

// valueOfKey reads what follows a key in the syntax it is written in.
func (s *scan) valueOfKey(k secretKey) (finding, bool) {
	t := s.text
	p := k.end
	quotedKey := k.start > 0 && isQuote(t[k.start-1])
	if p < len(t) && isQuote(t[p]) {
		p++ // the key's closing quote
	}
	if p < len(t) && t[p] == ']' && k.start >= 2 && t[k.start-2] == '[' && (isQuote(t[k.start-1]) || t[k.start-1] == ':') {
		p++ // a subscript: $config['db_pass'] = …, ENV["TOKEN"] = …, opts[:password] = …
	}
	p = arrayDeclarator(t, p)
	if k.start > 0 && t[k.start-1] == '<' {
		return s.xmlElementValue(k, p)
	}
	if quotedKey {
		p = s.attributeValueFollows(p)
	}
	if q, colon, ok := s.assignment(p); ok {
		return s.assignedValue(k, q, colon)
	}
	if q, ok := s.comparedLiteral(p); ok {
		return s.quotedValue(k, q, valueSetting)
	}
	if f, ok := s.literalComparedBefore(k); ok {
		return f, true
	}
	if k.flag {
		return s.flagValue(k, p)
	}
	if q, ok := s.literalArgument(k, p, quotedKey); ok {
		// The literal after a quoted key name may be any other argument
		// ("password", "email"): only one that looks generated is the
		// key's value.
		k.loose = k.loose || quotedKey
		return s.quotedValue(k, q, valueSetting)
	}
	return s.proseValue(k, p)
}

// arrayDeclarator skips the [] or [25] of a C array declared with its
// initializer (char password[] = "…").
func arrayDeclarator(t string, p int) int {
	if p >= len(t) || t[p] != '[' {
		return p
	}
	e := p + 1
	for e < len(t) && e-p <= 6 && isDigit(t[e]) {
		e++
	}
	if e < len(t) && t[e] == ']' {
		return e + 1
	}
	return p
}

// xmlElementValue reads <password>value</password>.
func (s *scan) xmlElementValue(k secretKey, p int) (finding, bool) {
	t := s.text
	if p >= len(t) || t[p] != '>' {
		return finding{}, false
	}
	vs := p + 1
	ve := strings.Index(t[vs:min(len(t), vs+maxKeywordWindow)], "</")
	if ve <= 0 {
		return finding{}, false
	}
	return s.secretValue(k, vs, vs+ve, valueSetting)
}

// attributeValueFollows skips to the value attribute of
// <add key="DbPassword" value="…"/>, when one follows the quoted key.
func (s *scan) attributeValueFollows(p int) int {
	attr := p
	for attr < len(s.text) && s.text[attr] == ' ' {
		attr++
	}
	if strings.HasPrefix(s.lowerText[attr:], "value=") {
		return attr + len("value")
	}
	return p
}

// assignment reads the separator of key = value, key: value, key := value,
// key => value (spaces around it allowed, comparisons refused); q is where
// the value begins.
func (s *scan) assignment(p int) (q int, colon, ok bool) {
	t := s.text
	q = skipBlanks(t, p)
	if strings.HasPrefix(t[q:], "：") { // the full-width colon of CJK text
		return skipBlanks(t, q+len("：")), true, true
	}
	if op := compoundAssignment(t[q:]); op > 0 {
		return skipBlanks(t, q+op), false, true
	}
	if q >= len(t) || (t[q] != ':' && t[q] != '=') {
		return 0, false, false
	}
	colon = t[q] == ':'
	if t[q] == '=' && q+1 < len(t) && t[q+1] == '=' || q > 0 && strings.IndexByte("!<>", t[q-1]) >= 0 {
		return 0, false, false // a comparison, not an assignment
	}
	q++
	if q < len(t) && (t[q] == '=' || t[q] == '>') { // := and =>
		q++
	}
	return skipBlanks(t, q), colon, true
}

// compoundAssignments are the assignments of other languages: Makefile's
// ?= (and ::=), PHP's and Perl's .=, +=, Ruby's ||=, ??= of C# and PHP.
var compoundAssignments = []string{"?=", "::=", ".=", "+=", "||=", "??="}

// compoundAssignment returns the length of the compound assignment t
// starts with, or 0.
func compoundAssignment(t string) int {
	for _, op := range compoundAssignments {
		if strings.HasPrefix(t, op) {
			return len(op)
		}
	}
	return 0
}

// comparisonOperators compare a key with a literal: a hard-coded secret
// checked against ("if (password == "…")").
var comparisonOperators = []string{"===", "!==", "==", "!="}

// comparedLiteral reads "== "…"" after a key: where the literal's quote
// stands.
func (s *scan) comparedLiteral(p int) (int, bool) {
	t := s.text
	q := skipBlanks(t, p)
	for _, op := range comparisonOperators {
		if strings.HasPrefix(t[q:], op) {
			q = skipBlanks(t, q+len(op))
			return q, q < len(t) && isQuote(t[q])
		}
	}
	return 0, false
}

// literalComparedBefore reads a literal compared with the key before it
// ("if ("…" == password)"): the literal's closing quote, a comparison, the
// key.
func (s *scan) literalComparedBefore(k secretKey) (finding, bool) {
	t := s.text
	i := k.start
	for i > 0 && (t[i-1] == ' ' || t[i-1] == '\t') {
		i--
	}
	if i < 2 || t[i-1] != '=' {
		return finding{}, false // every comparison ends with =
	}
	op := ""
	for _, o := range comparisonOperators {
		if strings.HasSuffix(t[:i], o) {
			op = o
			break
		}
	}
	if op == "" {
		return finding{}, false
	}
	i -= len(op)
	for i > 0 && (t[i-1] == ' ' || t[i-1] == '\t') {
		i--
	}
	if i == 0 || !isQuote(t[i-1]) {
		return finding{}, false
	}
	closing := i - 1
	line := strings.LastIndexByte(t[max(0, closing-maxKeywordWindow):closing], '\n') + max(0, closing-maxKeywordWindow) + 1
	open := strings.LastIndexByte(t[line:closing], t[closing])
	if open < 0 {
		return finding{}, false
	}
	return s.secretValue(k, line+open+1, closing, valueSetting)
}

// literalArgument reads a literal given to a key directly: "password
// "…";" in a configuration, a constructor or setter ("std::string
// secret("…")", ".password("…")"), the default of a lookup by a quoted
// key name ("getenv("api_token", "…")"): where the literal's quote stands.
func (s *scan) literalArgument(k secretKey, p int, quotedKey bool) (int, bool) {
	t := s.text
	q := skipBlanks(t, p)
	if q >= len(t) {
		return 0, false
	}
	switch {
	case quotedKey:
		// ("api_token", "…"): a lookup's default.
		if t[q] != ',' || k.start < 2 || t[k.start-2] != '(' {
			return 0, false
		}
		q = skipBlanks(t, q+1)
	case t[q] == '(':
		if q != p || readsSecret(k.name) {
			return 0, false
		}
		q = skipBlanks(t, q+1)
	case q == p:
		return 0, false
	}
	return q, q < len(t) && isQuote(t[q])
}

// secretReaders start the names of functions that read, check or derive
// a secret rather than set one: their argument is a name, a path or a
// guess ("getPassword("alice")", "verify_token("…")").
var secretReaders = []string{"get", "read", "fetch", "load", "find", "lookup", "has", "is", "check", "validate",
	"verify", "compare", "hash", "encode", "decode", "encrypt", "decrypt", "delete", "remove", "revoke", "print", "log"}

func readsSecret(key string) bool {
	key = strings.TrimLeft(key[strings.LastIndexByte(key, '.')+1:], "_-")
	for _, r := range secretReaders {
		if strings.HasPrefix(key, r) {
			return true
		}
	}
	return false
}

// skipBlanks skips spaces, tabs and no-break spaces ("mot de passe : x").
func skipBlanks(t string, i int) int {
	for i < len(t) {
		switch {
		case t[i] == ' ' || t[i] == '\t':
			i++
		case strings.HasPrefix(t[i:], "\u00a0"):
			i += len("\u00a0")
		default:
			return i
		}
	}
	return i
}

// assignedValue reads the value of an assignment: quoted, or unquoted up
// to where the syntax around the key says it ends.
func (s *scan) assignedValue(k secretKey, q int, colon bool) (finding, bool) {
	t := s.text
	if q >= len(t) {
		return finding{}, false
	}
	if isQuote(t[q]) {
		return s.quotedValue(k, q, valueSetting)
	}
	if s.mappingAt(q) {
		return finding{}, false // {name: db, key: password}: the key names a structure
	}
	if t[q] == '@' && q+1 < len(t) && t[q+1] == '"' { // Objective-C's and C#'s @"…"
		return s.quotedValue(k, q+1, valueSetting)
	}
	ve := s.unquotedEnd(q, s.syntaxAround(k))
	if s.codeValue(k, q, ve) {
		return finding{}, false
	}
	how := valueSetting
	// "The secret: patience is key." reads as a sentence, not a setting:
	// after a colon, a bare word followed by more words must look like a
	// secret.
	if colon && ve+1 < len(t) && t[ve] == ' ' && isAlpha(t[ve+1]) {
		how = valueInProse
	}
	return s.secretValue(k, q, ve, how)
}

// mappingAt reports a flow mapping or JSON object at q ({name: db},
// {"name": "db"}): a structure, not a value.
func (s *scan) mappingAt(q int) bool {
	t := s.text
	if q >= len(t) || t[q] != '{' {
		return false
	}
	i := skipBlanks(t, q+1)
	if i < len(t) && isQuote(t[i]) {
		i++
	}
	j := i
	for j < len(t) && isKeyChar(t[j]) {
		j++
	}
	if j < len(t) && isQuote(t[j]) {
		j++
	}
	return j > i && j < len(t) && t[j] == ':'
}

// flagValue reads the value of a command-line flag given after a space
// (--password hunter2); "Using --password via the CLI" gives none.
func (s *scan) flagValue(k secretKey, p int) (finding, bool) {
	t := s.text
	q := skipBlanks(t, p)
	if q == p || q >= len(t) || t[q] == '-' {
		return finding{}, false
	}
	if isQuote(t[q]) {
		return s.quotedValue(k, q, valueSetting)
	}
	ve := s.unquotedEnd(q, syntaxPlain)
	if s.codeValue(k, q, ve) || functionWords[strings.ToLower(t[q:ve])] {
		return finding{}, false
	}
	return s.secretValue(k, q, ve, valueSetting)
}

// quotedValue reads a value in quotes, backslash escapes included.
func (s *scan) quotedValue(k secretKey, q int, how valueReading) (finding, bool) {
	t := s.text
	c := t[q]
	vs := q + 1
	ve := vs
	for ve < len(t) && ve-vs < maxKeywordWindow && t[ve] != c && t[ve] != '\n' {
		if t[ve] == '\\' {
			ve++
		}
		ve++
	}
	if ve >= len(t) || t[ve] != c {
		return finding{}, false
	}
	if c == '`' && strings.IndexByte(t[vs:ve], ' ') >= 0 {
		return finding{}, false // a command's output: `etcdctl get /key`
	}
	return s.secretValue(k, vs, ve, how)
}

// valueReading is how a value was given: as a setting (any value that is
// not a placeholder), or in a sentence (it must look like a secret).
type valueReading int

const (
	valueSetting valueReading = iota
	valueInProse
)

// secretValue makes a finding of a key's value unless it is too short, a
// placeholder, an ordinary word in a sentence, or not what an encoded key
// holds.
func (s *scan) secretValue(k secretKey, start, end int, how valueReading) (finding, bool) {
	v := strings.TrimSpace(s.text[start:end])
	switch {
	case len(v) < 3, isPlaceholder(v), how == valueSetting && isTokenValue(v) && elidedAfter(s.text, end),
		vendorRejects(v, judgeShape), keyShapeRejects(k.name, v):
		return finding{}, false
	case how == valueInProse && !looksLikeSecret(k, v):
		return finding{}, false
	case k.encoded && !isBasicCredential(v):
		return finding{}, false
	case k.loose && !looksGenerated(v):
		return finding{}, false
	}
	return finding{start: start, end: end, kind: k.kind, priority: prioritySecret}, true
}

// looksLikeSecret: a value given in a sentence is a secret only if it
// holds a digit or a symbol (an API key, also letters and digits, and
// length).
func looksLikeSecret(k secretKey, v string) bool {
	if functionWords[strings.ToLower(v)] {
		return false
	}
	if k.kind == KindAPIKey {
		return len(v) >= 8 && strings.ContainsAny(v, "0123456789") && strings.IndexFunc(v, unicode.IsLetter) >= 0
	}
	return strings.ContainsAny(v, "0123456789!@#$%^&*_+=-~?")
}

// codeValue reports a value that is code: a call or index ("getpass()",
// "args[0]"), a member path ("config.db.password", "session?.token"), a
// keyword before a call ("await getToken()"), or a variable named like the
// key ("api_key = api_key").
func (s *scan) codeValue(k secretKey, q, ve int) bool {
	t := s.text
	if ve == q || (ve < len(t) && strings.IndexByte("([<", t[ve]) >= 0) {
		return true
	}
	value := strings.ToLower(t[q:ve])
	bare := strings.TrimLeft(k.name, "-")
	return isMemberPath(t[q:ve]) || callFollows(t, ve) || value == bare || strings.HasSuffix(bare, "."+value)
}

// callFollows reports code after a value: "await getToken()", "new Foo(",
// the value being a keyword before a call.
func callFollows(t string, i int) bool {
	j := i
	for j < len(t) && t[j] == ' ' {
		j++
	}
	if j == i {
		return false
	}
	k := j
	for k < len(t) && (isWord(t[k]) || t[k] == '.') {
		k++
	}
	return k > j && k < len(t) && t[k] == '('
}

// optionalChaining reads a?.b and a!.b as a.b, and the paths of other
// languages (env::var, $this->token) as member paths too.
var optionalChaining = strings.NewReplacer("?.", ".", "!.", ".", "::", ".", "->", ".")

// isMemberPath reports a dotted identifier path (config.db.password,
// process.env.TOKEN, session?.access_token, data!.secret): code that reads
// a secret, not a secret.
func isMemberPath(v string) bool {
	if strings.ContainsAny(v, "?!:>") {
		v = optionalChaining.Replace(v)
	}
	if !strings.Contains(v, ".") {
		return false
	}
	for part := range strings.SplitSeq(v, ".") {
		if part == "" || !(isAlpha(part[0]) || part[0] == '_' || part[0] == '$') {
			return false
		}
		for i := 1; i < len(part); i++ {
			if !isWord(part[i]) {
				return false
			}
		}
	}
	return true
}
