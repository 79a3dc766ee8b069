package policy

import "strings"

// Credentials passed as plain arguments: HTTPBasicAuth("ci-bot", "…"),
// requests' auth=("user", "…"), SetBasicAuth, NetworkCredential,
// smtplib's login("me@…", "…"). The callee's name says which argument is
// the secret; only a string literal there is one (a variable is code).

// credentialCall is a call whose argument secretArg is a secret; the
// keyword is the callee's name with its parenthesis, lower-cased. When
// firstArg is set, the first argument must satisfy it (Twilio's Client
// is known by its account SID).
type credentialCall struct {
	keyword   string
	secretArg int
	kind      string
	firstArg  func(string) bool
}

var credentialCalls = []credentialCall{
	{keyword: "basicauth(", secretArg: 1},  // HTTPBasicAuth, SetBasicAuth, BasicAuth, withBasicAuth
	{keyword: "basic_auth(", secretArg: 1}, // reqwest
	{keyword: "credentials.basic(", secretArg: 1},
	{keyword: "networkcredential(", secretArg: 1},
	{keyword: "usernamepasswordcredentials(", secretArg: 1},
	{keyword: "passwordauthentication(", secretArg: 1},
	{keyword: "usernamepasswordauthenticationtoken(", secretArg: 1},
	{keyword: "plainauth(", secretArg: 2}, // Go's smtp.PlainAuth(identity, user, password, host)
	{keyword: "login(", secretArg: 1},     // smtplib, ftplib, imaplib
	{keyword: "auth=(", secretArg: 1},     // requests
	{keyword: "auth = (", secretArg: 1},
	{keyword: "client(", secretArg: 1, kind: KindAPIKey, firstArg: isTwilioAccountSID},
	{keyword: "newstaticcredentials(", secretArg: 1, kind: KindAWSSecretKey}, // AWS SDK for Go (id, secret, token)
	{keyword: "basicawscredentials(", secretArg: 1, kind: KindAWSSecretKey},  // AWS SDK for Java
	{keyword: "jwt.sign(", secretArg: 1, kind: KindAPIKey},                   // jsonwebtoken (payload, secret)
	{keyword: "jwt.encode(", secretArg: 1, kind: KindAPIKey},                 // PyJWT (payload, key)
	{keyword: "createhmac(", secretArg: 1, kind: KindAPIKey},                 // Node's crypto (algorithm, key)
}

var credentialCallByKeyword = func() map[string]*credentialCall {
	m := map[string]*credentialCall{}
	for i := range credentialCalls {
		m[credentialCalls[i].keyword] = &credentialCalls[i]
	}
	return m
}()

func credentialCallKeywords() []string {
	out := make([]string, 0, len(credentialCalls))
	for _, c := range credentialCalls {
		out = append(out, c.keyword)
	}
	return out
}

// isTwilioAccountSID: AC and 32 hex digits.
func isTwilioAccountSID(v string) bool {
	if len(v) != 34 || !strings.HasPrefix(v, "AC") {
		return false
	}
	for i := 2; i < len(v); i++ {
		if !isHex(v[i]) {
			return false
		}
	}
	return true
}

// findCredentialCall reads the arguments of a credential call.
func findCredentialCall(s *scan, hit, hitEnd int, out []finding) []finding {
	call := credentialCallByKeyword[s.lowerText[hit:hitEnd]]
	if call == nil {
		return out
	}
	args := s.callArguments(hitEnd, call.secretArg+1)
	if len(args) <= call.secretArg || args[call.secretArg].end < 0 {
		return out
	}
	if call.firstArg != nil && (args[0].end < 0 || !call.firstArg(s.text[args[0].start:args[0].end])) {
		return out
	}
	kind := call.kind
	if kind == "" {
		kind = KindPassword
	}
	arg := args[call.secretArg]
	if f, ok := s.secretValue(secretKey{kind: kind}, arg.start, arg.end, valueSetting); ok {
		out = append(out, f)
	}
	return out
}

// callArguments reads up to n arguments of a call from just after its
// parenthesis: a string literal gives the span inside its quotes (Rust's
// Some("…") too); any other expression a span with end -1.
func (s *scan) callArguments(p, n int) []span {
	t := s.text
	limit := min(len(t), p+maxKeywordWindow)
	var args []span
	i := p
	for len(args) < n && i < limit {
		i = skipSpace(t, i, limit)
		lit := i
		if strings.HasPrefix(t[i:limit], "Some(") {
			lit = skipSpace(t, i+len("Some("), limit)
		}
		arg := span{lit, -1}
		if lit < limit && isQuote(t[lit]) {
			if close := strings.IndexByte(t[lit+1:limit], t[lit]); close >= 0 {
				arg = span{lit + 1, lit + 1 + close}
			}
		}
		args = append(args, arg)
		next, ok := nextArgument(t, i, limit)
		if !ok {
			break
		}
		i = next
	}
	return args
}

func skipSpace(t string, i, limit int) int {
	for i < limit && isSpace(t[i]) {
		i++
	}
	return i
}

// nextArgument skips an argument (nested brackets and strings included)
// to just after its comma; false at the call's closing parenthesis.
func nextArgument(t string, i, limit int) (int, bool) {
	depth := 0
	for i < limit {
		switch c := t[i]; {
		case isQuote(c):
			close := strings.IndexByte(t[i+1:limit], c)
			if close < 0 {
				return 0, false
			}
			i += close + 1
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			if depth == 0 {
				return 0, false
			}
			depth--
		case c == ',' && depth == 0:
			return i + 1, true
		}
		i++
	}
	return 0, false
}
