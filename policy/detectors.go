package policy

import (
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
	{kind: KindAPIKey, keywords: []string{"key", "creds"}, find: findLooseKeyValue},
	{kind: KindPassword, keywords: cliKeywords(), find: findCommandLine},
	{kind: KindPassword, keywords: credentialCallKeywords(), find: findCredentialCall},
	{kind: KindPrivateKey, keywords: []string{strings.ToLower(base64PEM)}, find: findBase64PrivateKey},
	{kind: KindAPIKey, keywords: []string{"sig="}, find: findSASSignature},
	{kind: KindAuthHeader, keywords: []string{"authorization", "bearer", "basic"}, find: findAuthHeader},
	{kind: KindConnectionString, keywords: []string{"://"}, find: findURLCredentials},
	{kind: KindPrivateKey, keywords: []string{"-----begin", "putty-user-key-file-", "age-secret-key-1"}, find: findPrivateKey},
	{kind: KindEmail, keywords: []string{" dot ", "(dot)", "[dot]", "{dot}", "(at)", "[at]", "{at}"}, find: findObfuscatedEmail},
	tokenDetector(KindAWSAccessKey, `(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}`, "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
	tokenDetector(KindGitHubToken, `(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`, "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
	// sk-ant- is Anthropic's prefix, within OpenAI's.
	checkedTokenDetector(KindOpenAIKey, `sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`, notAnthropicKey, "sk-"),
	// Slack's tokens: the team's and user's ids (numbers of six digits or
	// more) before the secret part; legacy workspace tokens (xoxa, xoxr)
	// without them; refresh and configuration tokens (xoxe-1-…, xoxe.xoxp-1-…);
	// app-level tokens.
	tokenDetector(KindSlackToken, `(?:xox[abposre]-(?:\d-)?(?:\d{6,14}-){1,3}[A-Za-z0-9][A-Za-z0-9-]{7,}|xox[ar]-(?:\d-)?[A-Za-z0-9]{8,48}|xoxe-\d-[A-Za-z0-9]{140,}|xoxe\.xox[bp]-\d-[A-Za-z0-9]{20,}|xapp-\d-[A-Za-z0-9-]{10,})`, "xox", "xapp-"),
	// An unsigned JWT (alg "none") ends with its second dot.
	checkedTokenDetector(KindJWT, `eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.(?:[A-Za-z0-9_-]{8,})?`, validJWT, "eyj"),
	tokenDetector(KindAPIKey, `(?:AIza[0-9A-Za-z_-]{35}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|sk-ant-[a-z]{3,5}\d\d-[A-Za-z0-9_-]{93}AA|glpat-[A-Za-z0-9_-]{20,}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|npm_[A-Za-z0-9]{36}|pypi-AgE[A-Za-z0-9_-]{50,}|hf_[A-Za-z0-9]{34}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}|do[opr]_v1_[a-f0-9]{64}|sq0(?:atp|csp)-[0-9A-Za-z_-]{22,})`,
		"aiza", "sk_live_", "rk_live_", "sk_test_", "rk_test_", "sk-ant-", "glpat-", "sg.", "npm_", "pypi-", "hf_", "shpat_", "shpss_", "shpca_", "shppa_", "dop_v1_", "doo_v1_", "dor_v1_", "sq0atp-", "sq0csp-"),
	{kind: KindJWT, keywords: []string{"eyj"}, find: findTwoPartJWT},
	{kind: KindAPIKey, keywords: kubernetesSecretKinds, find: findKubernetesSecret},
	{kind: KindSlackToken, keywords: []string{"hooks.slack.com/services/"}, find: findSlackWebhook},
	{kind: KindAWSSecretKey, keywords: []string{"aws_secret", "aws secret", "secret access key", "secret_access_key", "secretaccesskey"}, find: findAWSSecret},
}

// maxTokenLen is the longest vendor token read.
const maxTokenLen = 16 << 10

// tokenRunEnd is where the run of the characters vendor tokens are made
// of (letters, digits, _ - .) from i ends.
func tokenRunEnd(t string, i int) int {
	end := min(len(t), i+maxTokenLen)
	for j := i; j < end; j++ {
		if c := t[j]; !isWord(c) && c != '-' && c != '.' {
			return j
		}
	}
	return end
}

// tokenDetector is a vendor token recognised by its prefix: the pattern is
// checked case-sensitively at the keyword, which must start a word.
func tokenDetector(kind, pattern string, keywords ...string) *keywordDetector {
	return checkedTokenDetector(kind, pattern, nil, keywords...)
}

// checkedTokenDetector is a tokenDetector whose matches must also pass
// valid (nil: any match).
func checkedTokenDetector(kind, pattern string, valid func(string) bool, keywords ...string) *keywordDetector {
	re := regexp.MustCompile(`\A` + pattern)
	priority := priorityToken
	if kind == KindAPIKey {
		priority++ // sk-ant-… is an Anthropic key, not an OpenAI one
	}
	whole := regexp.MustCompile(`\A(?:` + pattern + `)\z`)
	shape := func(v string) bool { return whole.MatchString(v) && (valid == nil || valid(v)) }
	return &keywordDetector{kind: kind, keywords: keywords, token: true, shape: shape, find: func(s *scan, hit, _ int, out []finding) []finding {
		if hit > 0 && (isAlnum(s.text[hit-1]) || s.text[hit-1] == '-') {
			return out // inside a longer run: "sk-sk-sk-…" is no key, and no tail of it either
		}
		// The pattern runs on the token's characters only: a token is
		// read whole however long it is (a JWT carries claims), and a
		// short word costs no more than itself.
		window := s.text[hit:tokenRunEnd(s.text, hit)]
		m := re.FindStringIndex(window)
		if m == nil || s.wordAfter(hit+m[1]) && s.text[hit+m[1]] != '_' || isDocumentationValue(window[:m[1]]) ||
			maskedAfter(s.text, hit+m[1]) || vendorRejects(window[:m[1]], judgeExamples) || valid != nil && !valid(window[:m[1]]) {
			return out
		}
		return append(out, finding{start: hit, end: hit + m[1], kind: kind, priority: priority})
	}}
}

// notAnthropicKey: a token with OpenAI's prefix that is not Anthropic's.
func notAnthropicKey(v string) bool { return !strings.HasPrefix(v, "sk-ant-") }

// authSchemes are the schemes of an Authorization header.
var authSchemes = []string{"bearer", "basic", "token", "digest", "negotiate", "apikey", "api-key", "ntlm", "hawk", "aws4-hmac-sha256"}

// findAuthHeader finds the credential of an HTTP Authorization header
// ("Authorization: Bearer …", "authorization=Basic …"), and a Bearer token
// or Basic credential on its own.
func findAuthHeader(s *scan, hit, hitEnd int, out []finding) []finding {
	switch s.lowerText[hit:hitEnd] {
	case "authorization":
		return s.authorizationHeader(hitEnd, out)
	case "basic":
		return s.schemeCredential(hit, hitEnd, 8, true, out)
	default:
		return s.schemeCredential(hit, hitEnd, 16, false, out)
	}
}

// authorizationHeader reads the credential of "Authorization: <scheme>
// <credential>" (also "authorization=…", quoted keys and values).
func (s *scan) authorizationHeader(q int, out []finding) []finding {
	t := s.text
	q = skipAny(t, q, " \"'")
	if q >= len(t) || (t[q] != ':' && t[q] != '=') {
		return out
	}
	q = skipAny(t, q+1, " \"'")
	for _, scheme := range authSchemes {
		if strings.HasPrefix(s.lowerText[q:min(len(t), q+len(scheme)+1)], scheme+" ") {
			q += len(scheme) + 1
			break
		}
	}
	return appendCredential(s, out, q, 8, false)
}

// schemeCredential reads the credential after a scheme standing alone
// ("Bearer …", "basic …").
func (s *scan) schemeCredential(hit, hitEnd, minLen int, basic bool, out []finding) []finding {
	t := s.text
	if s.wordBefore(hit) || hitEnd >= len(t) || t[hitEnd] != ' ' {
		return out
	}
	return appendCredential(s, out, skipAny(t, hitEnd, " "), minLen, basic)
}

// skipAny skips the bytes of set from i.
func skipAny(t string, i int, set string) int {
	for i < len(t) && strings.IndexByte(set, t[i]) >= 0 {
		i++
	}
	return i
}

// appendCredential adds the token at q (base64 and URL-safe characters) if
// it is long enough and no placeholder; a Basic credential must decode to
// "user:password".
func appendCredential(s *scan, out []finding, q, minLen int, basic bool) []finding {
	t := s.text
	e := q
	for e < len(t) && (isAlnum(t[e]) || strings.IndexByte("._~+/=-:", t[e]) >= 0) {
		e++
	}
	if e-q < minLen || isPlaceholder(t[q:e]) || isBasicPlaceholder(t[q:e]) || basic && !isBasicCredential(t[q:e]) || vendorRejects(t[q:e], judgeShape) {
		return out
	}
	return append(out, finding{start: q, end: e, kind: KindAuthHeader, priority: prioritySecret})
}

// findURLCredentials finds the password of a URL with user information
// (postgres://app:S3cret@db/prod, redis://:pw@cache): the password only,
// so the rest of the connection string stays readable. The user
// information ends at the authority's last @ (a password may hold one).
func findURLCredentials(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	start := hit
	for start > 0 && (isAlnum(t[start-1]) || strings.IndexByte("+.-", t[start-1]) >= 0) {
		start--
	}
	if start == hit || !isAlpha(t[start]) {
		return out // no scheme
	}
	colon, at := s.userInfo(hitEnd)
	if colon < 0 || at < colon+2 {
		return out
	}
	if f, ok := s.secretValue(secretKey{kind: KindConnectionString}, colon+1, at, valueSetting); ok {
		out = append(out, f)
	}
	return out
}

// userInfo reads the authority of a URL from i (after "://"): where its
// first colon and its last @ stand, or -1.
func (s *scan) userInfo(i int) (colon, at int) {
	t := s.text
	colon, at = -1, -1
	for e := i; e < len(t) && e-i < maxKeywordWindow; e++ {
		c := t[e]
		if isSpace(c) || strings.IndexByte("/?\"'<>", c) >= 0 {
			break
		}
		if c == '@' {
			at = e
		} else if c == ':' && colon < 0 {
			colon = e
		}
	}
	return colon, at
}

// pemBegin recognises the first line of a private key block.
var pemBegin = regexp.MustCompile(`\A-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----`)

// findPrivateKey finds a private key block: PEM (RSA, EC, DSA, OpenSSH,
// encrypted, PGP) up to its END line, or — truncated — up to where its
// base64 body stops; a PuTTY key file; an age secret key.
func findPrivateKey(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	kw := s.lowerText[hit:hitEnd]
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
	if e := s.pemEndAfter(hit + m[1]); e >= 0 {
		if keyBodyChars(t[hit+m[1]:e]) < minKeyBody {
			return out
		}
		end := e + len("-----END")
		if close := strings.Index(t[end:min(len(t), end+80)], "-----"); close >= 0 {
			end += close + len("-----")
		}
		return append(out, finding{start: hit, end: end, kind: KindPrivateKey, priority: priorityBlock})
	}
	return append(out, finding{start: hit, end: bodyEnd(t, hit+m[1]), kind: KindPrivateKey, priority: priorityBlock})
}

// minKeyBody is the fewest base64 characters a whole key block's body
// holds: an empty block, or one holding a word ("-----BEGIN PRIVATE
// KEY----- anything -----END…"), shows what a key looks like, not a key.
// (The smallest key, Ed25519's 32 bytes, takes 44.) A block without its
// END line may be a key cut off after its first line, and is masked.
const minKeyBody = 16

// keyBodyChars counts the base64 characters of a key block's body,
// its header lines ("Proc-Type: 4,ENCRYPTED") left out.
func keyBodyChars(body string) int {
	n := 0
	for line := range strings.SplitSeq(body, "\n") {
		if strings.IndexByte(line, ':') >= 0 {
			continue
		}
		for i := 0; i < len(line); i++ {
			if c := line[i]; isAlnum(c) || c == '+' || c == '/' || c == '=' {
				n++
			}
		}
	}
	return n
}

// pemEndAfter returns where the first "-----END" at or after i stands, or
// -1. The answer is kept for the next block: blocks are looked at in text
// order, so the text is searched once however many there are.
func (s *scan) pemEndAfter(i int) int {
	c := &s.pemEnd
	if c.known && i >= c.from && (c.at < 0 || c.at >= i) {
		return c.at
	}
	at := strings.Index(s.text[i:], "-----END")
	if at >= 0 {
		at += i
	}
	*c = pemEndSearch{known: true, from: i, at: at}
	return at
}

// pemEndSearch is what pemEndAfter found last: searching from from, the
// first "-----END" at at (-1: none).
type pemEndSearch struct {
	known    bool
	from, at int
}

// lowerString is the lower-cased text from i.
func (s *scan) lowerString(i int) string { return s.lowerText[i:] }

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
		if pos > i && (line == "" || !keyBodyLine(line) || strings.HasPrefix(line, "-----BEGIN")) {
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
// example dot com", "jane(at)example(dot)com", "maria dot lopez [at]
// example.com"): the local part's dots may be written out too, or the
// domain's left as they are. It runs on the lower-cased text.
var obfuscatedEmail = func() *regexp.Regexp {
	dot := `(?: *(?:\(dot\)|\[dot\]|\{dot\}) *| +dot +)`
	at := `(?: *(?:\(at\)|\[at\]|\{at\}) *| +at +)`
	local := `[a-z0-9._+-]+(?:` + dot + `[a-z0-9._+-]+)*`
	domain := `[a-z0-9-]+(?:(?:` + dot + `|\.)[a-z0-9-]+)+`
	return regexp.MustCompile(local + at + domain)
}()

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
		last := text[strings.LastIndexAny(text, " )]}.")+1:]
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
