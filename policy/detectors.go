package policy

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// Detector kinds: the names policy files use and redactions are counted
// under. The first twelve are the original ones and keep their meaning.
const (
	KindEmail            = "email"
	KindPhone            = "phone"
	KindPaymentCard      = "payment_card"
	KindIBAN             = "iban"
	KindIPAddress        = "ip_address"
	KindAWSAccessKey     = "aws_access_key"
	KindGitHubToken      = "github_token"
	KindOpenAIKey        = "openai_key"
	KindSlackToken       = "slack_token"
	KindJWT              = "jwt"
	KindPrivateKey       = "private_key"
	KindPassword         = "password"
	KindAPIKey           = "api_key"
	KindAWSSecretKey     = "aws_secret_key"
	KindAuthHeader       = "auth_header"
	KindConnectionString = "connection_string"
	// KindConfiguredSecret is the gateway's own configured secrets (backend
	// API keys): always masked, whatever the policy says.
	KindConfiguredSecret = "configured_secret"
)

// builtinKinds lists the kinds of the built-in detectors, in the order the
// README documents them.
var builtinKinds = []string{
	KindEmail, KindPhone, KindPaymentCard, KindIBAN, KindIPAddress, KindAWSAccessKey, KindGitHubToken,
	KindOpenAIKey, KindSlackToken, KindJWT, KindPrivateKey, KindPassword, KindAPIKey, KindAWSSecretKey,
	KindAuthHeader, KindConnectionString,
}

// secretKinds are the kinds that make an id unacceptable: credentials,
// cards and account numbers. (Emails, phones and addresses are identities
// and may be ids.)
var secretKinds = map[string]bool{
	KindPaymentCard: true, KindIBAN: true, KindAWSAccessKey: true, KindGitHubToken: true, KindOpenAIKey: true,
	KindSlackToken: true, KindJWT: true, KindPrivateKey: true, KindPassword: true, KindAPIKey: true,
	KindAWSSecretKey: true, KindAuthHeader: true, KindConnectionString: true, KindConfiguredSecret: true,
}

// keywordDetectors are the built-in detectors found through keywords (the
// vendor rules generated from rule data join them: vendor_rules.go).
var keywordDetectors = []*keywordDetector{
	{kind: KindPassword, keywords: secretKeyWords, find: findKeyValue},
	{kind: KindAuthHeader, keywords: []string{"authorization", "bearer", "basic"}, find: findAuthHeader},
	{kind: KindConnectionString, keywords: []string{"://"}, find: findURLCredentials},
	{kind: KindPrivateKey, keywords: []string{"-----begin", "putty-user-key-file-", "age-secret-key-1"}, find: findPrivateKey},
	{kind: KindEmail, keywords: []string{" dot ", "(dot)", "[dot]", "{dot}", "(at)", "[at]", "{at}"}, find: findObfuscatedEmail},
	tokenDetector(KindAWSAccessKey, `(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}`, "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
	tokenDetector(KindGitHubToken, `(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`, "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
	tokenDetector(KindOpenAIKey, `sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`, "sk-"),
	tokenDetector(KindSlackToken, `(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})`, "xox", "xapp-"),
	tokenDetector(KindJWT, `eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`, "eyj"),
	tokenDetector(KindAPIKey, `(?:AIza[0-9A-Za-z_-]{35}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|sk-ant-[A-Za-z0-9_-]{20,}|glpat-[A-Za-z0-9_-]{20,}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|npm_[A-Za-z0-9]{36}|pypi-AgE[A-Za-z0-9_-]{50,}|hf_[A-Za-z0-9]{30,}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}|do[opr]_v1_[a-f0-9]{64}|sq0(?:atp|csp)-[0-9A-Za-z_-]{22,})`,
		"aiza", "sk_live_", "rk_live_", "sk_test_", "rk_test_", "sk-ant-", "glpat-", "sg.", "npm_", "pypi-", "hf_", "shpat_", "shpss_", "shpca_", "shppa_", "dop_v1_", "doo_v1_", "dor_v1_", "sq0atp-", "sq0csp-"),
	{kind: KindSlackToken, keywords: []string{"hooks.slack.com/services/"}, find: findSlackWebhook},
	{kind: KindAWSSecretKey, keywords: []string{"aws_secret", "aws secret", "secret access key", "secret_access_key", "secretaccesskey"}, find: findAWSSecret},
}

// tokenDetector is a vendor token recognised by its prefix: the pattern is
// checked case-sensitively at the keyword, which must start a word.
func tokenDetector(kind, pattern string, keywords ...string) *keywordDetector {
	re := regexp.MustCompile(`\A` + pattern)
	priority := priorityToken
	if kind == KindAPIKey {
		priority++ // sk-ant-… is an Anthropic key, not an OpenAI one
	}
	return &keywordDetector{kind: kind, keywords: keywords, find: func(s *scan, hit, _ int, out []finding) []finding {
		if s.wordBefore(hit) && !(hit > 0 && s.text[hit-1] == '_') {
			return out
		}
		window := s.text[hit:min(len(s.text), hit+300)]
		m := re.FindStringIndex(window)
		if m == nil || s.wordAfter(hit+m[1]) && s.text[hit+m[1]] != '_' {
			return out
		}
		return append(out, finding{start: hit, end: hit + m[1], kind: kind, priority: priority})
	}}
}

// secretKeyWords are the keywords of key/value secrets; the whole key
// around the keyword decides (see secretKeyKind).
var secretKeyWords = []string{
	"password", "passwd", "pwd", "passphrase", "passcode", "secret", "api_key", "apikey", "api-key",
	"access_key", "accesskey", "access-key", "token", "credential", "private_key", "privatekey", "accountkey",
	"pass", "pin",
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
var gluedExclusions = []string{"less", "izer", "ization", "ized", "izing", "tokens", "length", "policy", "hint", "expiry", "expiration", "strength", "required", "field", "label", "prompt", "manager", "store", "port", "name", "type", "count"}

// secretKeyKind classifies a key (lower-cased): the kind of the secret its
// value is, or "" when it names no secret.
func secretKeyKind(key string) string {
	key = strings.Trim(key, "-_.")
	last := key[strings.LastIndexAny(key, "_-.")+1:]
	if excludedKeys[key] || excludedKeys[last] {
		return ""
	}
	if !strings.HasSuffix(key, "password") && !strings.HasSuffix(key, "passwd") {
		for _, suffix := range gluedExclusions {
			if strings.HasSuffix(last, suffix) {
				return ""
			}
		}
	}
	switch {
	case strings.Contains(key, "aws_secret") || strings.Contains(key, "secret_access_key") || strings.Contains(key, "secretaccesskey"):
		return KindAWSSecretKey
	case strings.Contains(key, "password") || strings.Contains(key, "passwd") || strings.Contains(key, "passphrase") ||
		strings.Contains(key, "passcode") || key == "pwd" || strings.HasSuffix(key, "_pwd") || key == "pass" ||
		strings.HasSuffix(key, "_pass") || key == "pin" || strings.HasSuffix(key, "_pin"):
		return KindPassword
	case strings.Contains(key, "client_secret") || strings.Contains(key, "secret_key") || strings.Contains(key, "secretkey"):
		return KindAPIKey
	case key == "secret" || strings.HasSuffix(key, "_secret") || strings.HasSuffix(key, "-secret") || strings.HasPrefix(key, "secret_") || key == "secrets":
		return KindPassword
	case strings.Contains(key, "api_key") || strings.Contains(key, "apikey") || strings.Contains(key, "api-key") ||
		strings.Contains(key, "access_key") || strings.Contains(key, "accesskey") || strings.Contains(key, "access-key") ||
		strings.Contains(key, "token") || strings.Contains(key, "credential") || strings.Contains(key, "private_key") ||
		strings.Contains(key, "privatekey") || key == "accountkey":
		return KindAPIKey
	}
	return ""
}

// placeholders are values that stand for a secret without being one.
var placeholders = map[string]bool{
	"null": true, "nil": true, "none": true, "true": true, "false": true, "undefined": true, "empty": true,
	"string": true, "str": true, "int": true, "bool": true, "boolean": true, "number": true, "any": true,
	"object": true, "required": true, "optional": true, "redacted": true, "hidden": true, "secret": true,
	"password": true, "token": true, "your_password": true, "yourpassword": true, "your_token": true,
	"your_api_key": true, "changeit": false, "env": true, "default": true, "unknown": true, "na": true,
	"n/a": true, "tbd": true, "todo": true, "omitted": true, "masked": true, "sensitive": true,
	"is": true, "was": true, "the": true, "a": true, "an": true, "and": true, "or": true, "for": true,
}

// proseSeparators let a value follow its key in words ("my password is
// hunter2"); such a value must look like a secret (a digit or a symbol).
var proseSeparators = []string{" is ", " was ", " = ", ": "}

// findKeyValue finds the value of a key/value secret in any of the common
// syntaxes: JSON and YAML ("password": "x", password: x), env files and
// shells (DB_PASSWORD=x, export API_KEY='x'), CLI flags (--password x),
// XML (<password>x</password>, password="x"), query strings and connection
// strings (;Password=x;), and prose ("my password is x"). Values that are
// code (a call, a member path), placeholders or templates are not secrets.
func findKeyValue(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	n := len(t)
	keyStart, keyEnd := hit, hitEnd
	for keyStart > 0 && isKeyChar(t[keyStart-1]) {
		keyStart--
	}
	for keyEnd < n && isKeyChar(t[keyEnd]) {
		keyEnd++
	}
	if !separatorFollows(s, keyStart, keyEnd) {
		return out // most keyword hits are words in prose: no value follows
	}
	rawKey := string(s.lower[keyStart:keyEnd])
	kind := secretKeyKind(rawKey)
	if kind == "" {
		return out
	}
	flag := strings.HasPrefix(rawKey, "-")
	xmlTag := keyStart >= 1 && t[keyStart-1] == '<'
	quotedKey := keyStart >= 1 && (t[keyStart-1] == '"' || t[keyStart-1] == '\'')
	p := keyEnd
	if p < n && (t[p] == '"' || t[p] == '\'' || t[p] == '`') {
		p++
	}
	// <add key="DbPassword" value="…"/>: the value is the next attribute.
	if quotedKey {
		attr := p
		for attr < n && t[attr] == ' ' {
			attr++
		}
		if strings.HasPrefix(string(s.lower[attr:min(n, attr+6)]), "value=") {
			p = attr + len("value")
		}
	}
	if xmlTag {
		if p >= n || t[p] != '>' {
			return out
		}
		vs := p + 1
		ve := strings.Index(t[vs:min(n, vs+maxKeywordWindow)], "</")
		if ve <= 0 {
			return out
		}
		return appendValue(s, out, kind, vs, vs+ve, false)
	}
	// The separator.
	q := p
	for q < n && (t[q] == ' ' || t[q] == '\t') {
		q++
	}
	prose, colon := false, false
	switch {
	case q < n && (t[q] == ':' || t[q] == '='):
		colon = t[q] == ':'
		if q+1 < n && t[q] == '=' && t[q+1] == '=' || q > 0 && strings.IndexByte("!<>", t[q-1]) >= 0 {
			return out // a comparison, not an assignment
		}
		q++
		if q < n && (t[q] == '=' || t[q] == '>') { // := and =>
			q++
		}
	case flag && q > p:
		// --password value
	default:
		rest := s.lower[p:min(n, p+8)]
		matched := false
		for _, sep := range proseSeparators[:2] {
			if strings.HasPrefix(string(rest), sep) {
				q = p + len(sep)
				matched, prose = true, true
				break
			}
		}
		if !matched || kind != KindPassword {
			return out
		}
	}
	for q < n && (t[q] == ' ' || t[q] == '\t') {
		q++
	}
	if q >= n {
		return out
	}
	// The value: quoted, or up to a delimiter.
	if c := t[q]; c == '"' || c == '\'' || c == '`' {
		vs := q + 1
		ve := vs
		for ve < n && ve-vs < maxKeywordWindow && t[ve] != c && t[ve] != '\n' {
			if t[ve] == '\\' {
				ve++
			}
			ve++
		}
		if ve >= n || t[ve] != c {
			return out
		}
		return appendValue(s, out, kind, vs, ve, prose)
	}
	ve := q
	for ve < n && ve-q < maxKeywordWindow && !isSpace(t[ve]) && strings.IndexByte(",;&\"'<>)]}[", t[ve]) < 0 {
		ve++
	}
	for ve > q && strings.IndexByte(".:!?", t[ve-1]) >= 0 {
		ve-- // the end of a sentence
	}
	if ve == q || (ve < n && strings.IndexByte("([<", t[ve]) >= 0) {
		return out // a call, an index, a generic type: code
	}
	value := t[q:ve]
	if strings.ContainsAny(value, "(") || isMemberPath(value) || callFollows(t, ve) ||
		strings.EqualFold(value, strings.TrimLeft(rawKey, "-")) || strings.HasSuffix(strings.ToLower(rawKey), "."+strings.ToLower(value)) {
		return out // code: a call, a member, a variable named like the key
	}
	// "The secret: patience is key." reads as a sentence, not a setting:
	// after a colon, a bare word followed by more words must look like a
	// secret.
	if colon && ve+1 < n && t[ve] == ' ' && isAlpha(t[ve+1]) {
		prose = true
	}
	return appendValue(s, out, kind, q, ve, prose)
}

// separatorFollows is a cheap first look: could a value follow the key at
// [start, end)? (An XML tag, a quote then a separator, ':' or '=', a flag's
// space, or a prose " is ".)
func separatorFollows(s *scan, start, end int) bool {
	t := s.text
	if start > 0 && t[start-1] == '<' || t[start] == '-' {
		return true
	}
	for i := end; i < len(t) && i < end+6; i++ {
		switch t[i] {
		case ':', '=':
			return true
		case '"', '\'', '`', ' ', '\t':
			continue
		case 'i', 'w', 'v':
			return true // " is ", " was ", ' value='
		default:
			return false
		}
	}
	return false
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

func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// isMemberPath reports a dotted identifier path (config.db.password,
// process.env.TOKEN): code that reads a secret, not a secret.
func isMemberPath(v string) bool {
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

// appendValue adds a key/value secret's value unless it is a placeholder,
// a template or (after a prose separator) an ordinary word.
func appendValue(s *scan, out []finding, kind string, start, end int, prose bool) []finding {
	v := strings.TrimSpace(s.text[start:end])
	if len(v) < 3 {
		return out
	}
	lv := strings.ToLower(v)
	switch {
	case placeholders[lv], strings.HasPrefix(v, "${"), strings.HasPrefix(v, "{{"), strings.HasPrefix(v, "$("),
		strings.HasPrefix(v, "%s"), strings.HasPrefix(v, "%("), strings.HasPrefix(v, "[REDACTED"),
		strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"), strings.HasPrefix(v, "$") && isIdentifier(v[1:]),
		repeated(v):
		return out
	}
	if prose && !strings.ContainsAny(v, "0123456789!@#$%^&*_+=-~?") {
		return out
	}
	return append(out, finding{start: start, end: end, kind: kind, priority: prioritySecret})
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

// repeated reports a value of one repeated character ("****", "xxxx").
func repeated(v string) bool {
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			return false
		}
	}
	return true
}

// authSchemes are the schemes of an Authorization header.
var authSchemes = []string{"bearer", "basic", "token", "digest", "negotiate", "apikey", "api-key", "ntlm", "hawk", "aws4-hmac-sha256"}

// findAuthHeader finds the credential of an HTTP Authorization header
// ("Authorization: Bearer …", "authorization=Basic …"), and a Bearer token
// or Basic credential on its own.
func findAuthHeader(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	n := len(t)
	q := hitEnd
	if string(s.lower[hit:hitEnd]) == "authorization" {
		for q < n && (t[q] == '"' || t[q] == '\'' || t[q] == ' ') {
			q++
		}
		if q >= n || (t[q] != ':' && t[q] != '=') {
			return out
		}
		q++
		for q < n && (t[q] == ' ' || t[q] == '"' || t[q] == '\'') {
			q++
		}
		for _, scheme := range authSchemes {
			if strings.HasPrefix(string(s.lower[q:min(n, q+len(scheme)+1)]), scheme+" ") {
				q += len(scheme) + 1
				break
			}
		}
		return appendCredential(s, out, q, 8, false)
	}
	if s.wordBefore(hit) || q >= n || t[q] != ' ' {
		return out
	}
	for q < n && t[q] == ' ' {
		q++
	}
	if string(s.lower[hit:hitEnd]) == "basic" {
		return appendCredential(s, out, q, 8, true)
	}
	return appendCredential(s, out, q, 16, false)
}

// appendCredential adds the token at q (base64 and URL-safe characters) if
// it is long enough; a Basic credential must decode to "user:password".
func appendCredential(s *scan, out []finding, q, minLen int, basic bool) []finding {
	t := s.text
	e := q
	for e < len(t) && (isAlnum(t[e]) || strings.IndexByte("._~+/=-:", t[e]) >= 0) {
		e++
	}
	if e-q < minLen {
		return out
	}
	if basic {
		raw, err := base64.StdEncoding.DecodeString(t[q:e])
		if err != nil || !strings.Contains(string(raw), ":") {
			return out
		}
	}
	return append(out, finding{start: q, end: e, kind: KindAuthHeader, priority: prioritySecret})
}

// findURLCredentials finds the password of a URL with user information
// (postgres://app:S3cret@db/prod, redis://:pw@cache): the password only,
// so the rest of the connection string stays readable.
func findURLCredentials(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	start := hit
	for start > 0 && (isAlnum(t[start-1]) || strings.IndexByte("+.-", t[start-1]) >= 0) {
		start--
	}
	if start == hit || !isAlpha(t[start]) {
		return out
	}
	e := hitEnd
	colon := -1
	for e < len(t) && e-hitEnd < maxKeywordWindow {
		c := t[e]
		if c == '@' {
			break
		}
		if isSpace(c) || strings.IndexByte("/?\"'<>", c) >= 0 {
			return out
		}
		if c == ':' && colon < 0 {
			colon = e
		}
		e++
	}
	if e >= len(t) || t[e] != '@' || colon < 0 || e-colon < 2 {
		return out
	}
	return appendValue(s, out, KindConnectionString, colon+1, e, false)
}

// pemBegin recognises the first line of a private key block.
var pemBegin = regexp.MustCompile(`\A-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----`)

// findPrivateKey finds a private key block: PEM (RSA, EC, DSA, OpenSSH,
// encrypted, PGP) up to its END line, or — truncated — up to where its
// base64 body stops; a PuTTY key file; an age secret key.
func findPrivateKey(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	kw := string(s.lower[hit:hitEnd])
	switch kw {
	case "age-secret-key-1":
		e := hitEnd
		for e < len(t) && isAlnum(t[e]) {
			e++
		}
		if e-hitEnd < 40 {
			return out
		}
		return append(out, finding{start: hit, end: e, kind: KindPrivateKey, priority: priorityBlock})
	case "putty-user-key-file-":
		end := strings.Index(s.lowerString(hit), "private-mac:")
		if end < 0 {
			return append(out, finding{start: hit, end: bodyEnd(t, hit), kind: KindPrivateKey, priority: priorityBlock})
		}
		e := hit + end
		for e < len(t) && t[e] != '\n' {
			e++
		}
		return append(out, finding{start: hit, end: e, kind: KindPrivateKey, priority: priorityBlock})
	}
	m := pemBegin.FindStringIndex(t[hit:min(len(t), hit+80)])
	if m == nil {
		return out
	}
	rest := t[hit+m[1]:]
	if e := strings.Index(rest, "-----END"); e >= 0 {
		end := hit + m[1] + e + len("-----END")
		if close := strings.Index(t[end:min(len(t), end+80)], "-----"); close >= 0 {
			end += close + len("-----")
		}
		return append(out, finding{start: hit, end: end, kind: KindPrivateKey, priority: priorityBlock})
	}
	return append(out, finding{start: hit, end: bodyEnd(t, hit+m[1]), kind: KindPrivateKey, priority: priorityBlock})
}

// lowerString is the lower-cased text from i.
func (s *scan) lowerString(i int) string { return string(s.lower[i:]) }

// bodyEnd is where a key body that starts at i ends: at a blank line, or
// at a line that is not base64 (or a "Key: value" header), or the text's
// end.
func bodyEnd(t string, i int) int {
	pos := i
	for pos < len(t) {
		lineEnd := strings.IndexByte(t[pos:], '\n')
		if lineEnd < 0 {
			lineEnd = len(t) - pos
		}
		line := strings.TrimSpace(t[pos : pos+lineEnd])
		if pos > i && (line == "" || !keyBodyLine(line)) {
			return pos
		}
		pos += lineEnd + 1
	}
	return len(t)
}

func keyBodyLine(line string) bool {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !isAlnum(c) && strings.IndexByte("+/=:- ", c) < 0 {
			return false
		}
	}
	return true
}

// obfuscatedEmail is an address written out to dodge scrapers ("jane at
// example dot com", "jane(at)example(dot)com").
// It runs on the lower-cased text.
var obfuscatedEmail = regexp.MustCompile(`[a-z0-9._+-]+ *(?:\(at\)|\[at\]|\{at\}| at ) *[a-z0-9-]+(?: *(?:\(dot\)|\[dot\]|\{dot\}| dot ) *[a-z0-9-]+)+`)

// topLevelDomains end an obfuscated address: without one, "look at the dot
// matrix" would be an address.
var topLevelDomains = map[string]bool{
	"com": true, "org": true, "net": true, "io": true, "co": true, "uk": true, "de": true, "fr": true, "edu": true,
	"gov": true, "info": true, "biz": true, "me": true, "us": true, "ca": true, "au": true, "in": true, "jp": true,
	"es": true, "it": true, "nl": true, "eu": true, "ch": true, "se": true, "no": true, "dk": true, "fi": true,
	"pl": true, "br": true, "mx": true, "ai": true, "dev": true, "app": true, "ie": true, "at": true, "be": true,
}

func findObfuscatedEmail(s *scan, hit, hitEnd int, out []finding) []finding {
	// An address is written on one line.
	from, to := max(0, hit-80), min(len(s.text), hitEnd+80)
	if nl := strings.LastIndexByte(s.text[from:hit], '\n'); nl >= 0 {
		from += nl + 1
	}
	if nl := strings.IndexByte(s.text[hitEnd:to], '\n'); nl >= 0 {
		to = hitEnd + nl
	}
	window := s.lower[from:to]
	if !containsAny(window, " at ", "(at)", "[at]", "{at}") || !containsAny(window, " dot ", "(dot)", "[dot]", "{dot}") {
		return out
	}
	for _, m := range obfuscatedEmail.FindAllIndex(window, -1) {
		start, end := from+m[0], from+m[1]
		if end < hit || start > hitEnd || s.wordBefore(start) || s.wordAfter(end) {
			continue
		}
		text := strings.ToLower(s.text[start:end])
		if !strings.Contains(text, "dot") {
			continue
		}
		last := text[strings.LastIndexAny(text, " )]}")+1:]
		if !topLevelDomains[last] {
			continue
		}
		out = append(out, finding{start: start, end: end, kind: KindEmail, priority: priorityPII})
	}
	return out
}

func containsAny(b []byte, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(string(b), sub) {
			return true
		}
	}
	return false
}

// findSlackWebhook finds the secret path of a Slack incoming webhook.
func findSlackWebhook(s *scan, hit, hitEnd int, out []finding) []finding {
	e := hitEnd
	for e < len(s.text) && (isAlnum(s.text[e]) || s.text[e] == '/' || s.text[e] == '_') {
		e++
	}
	if e-hitEnd < 20 {
		return out
	}
	return append(out, finding{start: hitEnd, end: e, kind: KindSlackToken, priority: priorityToken})
}

// awsSecretValue is an AWS secret access key: 40 characters of base64.
var awsSecretValue = regexp.MustCompile(`(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])`)

// findAWSSecret finds an AWS secret access key that follows its name in
// words ("AWS Secret Access Key: wJalr…"), which key/value syntax misses.
func findAWSSecret(s *scan, _, hitEnd int, out []finding) []finding {
	window := s.text[hitEnd:min(len(s.text), hitEnd+80)]
	m := awsSecretValue.FindStringSubmatchIndex(window)
	if m == nil {
		return out
	}
	return append(out, finding{start: hitEnd + m[2], end: hitEnd + m[3], kind: KindAWSSecretKey, priority: prioritySecret + 1})
}
