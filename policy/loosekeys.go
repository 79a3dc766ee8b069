package policy

import (
	"strings"
	"unicode/utf8"
)

// Keys that name a secret only loosely: a key ending in KEY (SIGNING_KEY,
// stripe-key, encryptionKey), one holding "secret", a password word or
// "creds" among other words (mySecretString, todo_secret_do_not_commit,
// db_pass_secure), an "auth" of something (user_auth). Such keys also
// name what is no secret (PRIMARY_KEY, cache_key, secretRef, pass_through),
// so their value is a secret only if it looks generated — the way keys,
// tokens and passwords chosen by a machine look — not like a name, a word
// or a path.

// findLooseKeyValue finds the value of a key/value secret whose key
// ends in a word KEY (SIGNING_KEY, stripe-key, encryptionKey) or is
// "creds": "key" ends many ordinary words (monkey, hockey), so it is read
// only where it ends a key as a word of its own.
func findLooseKeyValue(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	if s.lowerText[hit:hitEnd] == "key" {
		if hit == 0 || hitEnd < len(t) && isKeyChar(t[hitEnd]) {
			return out
		}
		if c := t[hit-1]; c != '_' && c != '-' && c != '.' && !(t[hit] == 'K' && isLower(c)) {
			return out
		}
		if strongKeyBefore(s.lowerText[max(0, hit-8):hit]) {
			return out // api_key, accessKey, secret_key: read at their own keyword
		}
	}
	return findKeyValue(s, hit, hitEnd, out)
}

// strongKeyPrefixes end, before "key", the keys whose own keywords find
// them (api_key, access-key, privateKey, secret_key, AccountKey).
var strongKeyPrefixes = []string{"api_", "api-", "api", "access_", "access-", "access", "private_", "private", "secret_", "secret-", "secret", "account"}

func strongKeyBefore(before string) bool {
	for _, p := range strongKeyPrefixes {
		if strings.HasSuffix(before, p) {
			return true
		}
	}
	return false
}

// publicKeyWords, as a key's segment, make a key name something public
// or a position: PUBLIC_KEY, publishable_key, primary_key, sort_key.
var publicKeyWords = map[string]bool{
	"public": true, "pub": true, "publishable": true, "primary": true, "foreign": true, "sort": true,
	"partition": true, "cache": true, "lookup": true, "idempotency": true, "unique": true, "composite": true,
	"row": true, "map": true, "object": true, "i18n": true, "translation": true, "message": true, "label": true,
	"hot": true, "short": true, "cut": true, "shortcut": true, "s3": true, "file": true, "dedup": true,
	"group": true, "bucket": true, "routing": true, "sharding": true, "shard": true, "hash": true, "index": true,
	"field": true,
}

// looseKey classifies a key that no rule names a secret: raw is the key
// as written, name lower-cased.
func looseKey(raw, name string) secretKey {
	segments := keySegments(raw)
	if len(segments) == 0 || excludedKeys[segments[len(segments)-1]] || excludedKeys[strings.Trim(name, "-_.")] {
		return secretKey{}
	}
	for i, seg := range segments {
		if publicKeyWords[seg] || seg == "key" && i < len(segments)-1 {
			return secretKey{} // or something about a key: keyVault, key_id, key_ring
		}
	}
	kind := looseKeyKind(segments)
	if kind == "" {
		return secretKey{}
	}
	return secretKey{name: name, kind: kind, flag: strings.HasPrefix(name, "-"), loose: true}
}

// looseKeyKind: a key of several words ending in KEY names an API key,
// ending in AUTH a credential; a key holding "creds" a credential, a
// password word (pass, pwd, pw) or a word starting with "secret" a
// password.
func looseKeyKind(segments []string) string {
	switch last := segments[len(segments)-1]; {
	case len(segments) > 1 && last == "key":
		return KindAPIKey
	case len(segments) > 1 && last == "auth":
		return KindAuthHeader
	}
	for _, seg := range segments {
		switch {
		case seg == "creds" || seg == "cred":
			return KindAPIKey
		case seg == "pass" || seg == "pwd" || seg == "pw":
			return KindPassword
		case strings.HasPrefix(seg, "secret") && !secretWordOfProse(seg):
			return KindPassword
		}
	}
	return ""
}

// secretWordOfProse: English words that start like "secret" and name no
// secret (secretary, secretion, secretly).
func secretWordOfProse(seg string) bool {
	return hasAnyPrefix(seg, []string{"secretar", "secretion", "secretive", "secretly", "secretory"})
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// keySegments splits a key into its words, lower-cased: at _ - . and
// where camelCase starts a word (mySecretString: my, secret, string).
func keySegments(raw string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if end > start {
			out = append(out, strings.ToLower(raw[start:end]))
		}
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '_' || c == '-' || c == '.':
			flush(i)
			start = i + 1
		case i > start && isUpper(c) && isLower(raw[i-1]):
			flush(i)
			start = i
		}
	}
	flush(len(raw))
	return out
}

// looksGenerated reports a value that looks chosen by a machine, or as a
// password is chosen: eight characters or more without spaces, letters
// with digits or symbols (or mixed case, long), and not a word, a slug of
// words ("db-creds-v2"), a path, a file or a made-up run ("abcdef").
func looksGenerated(v string) bool {
	if len(v) < 8 || strings.ContainsAny(v, " \t\n") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") ||
		strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "arn:") || strings.Contains(v, "://") || isSlug(v) || hasFileExtension(v) || hasCountingRun(v) {
		return false
	}
	letters, digits, symbols, upper, lower := false, false, false, false, false
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		switch c := v[i]; {
		case r >= utf8.RuneSelf:
			symbols = true
		case isUpper(c):
			letters, upper = true, true
		case isLower(c):
			letters, lower = true, true
		case isDigit(c):
			digits = true
		case c != '-' && c != '_' && c != '.':
			symbols = true
		}
		i += size
	}
	return (letters || symbols) && (digits || symbols || upper && lower && len(v) >= 16)
}

// isSlug: words and numbers joined by - _ or . ("db-creds-v2", "user_id",
// "DOC_Vector_5_32", "SalesResults-1.2"): parts of letters or of digits,
// not long parts mixing both, as those of a UUID or a key do.
func isSlug(v string) bool {
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		letters, digits := false, false
		for i := 0; i < len(p); i++ {
			switch {
			case isAlpha(p[i]):
				letters = true
			case isDigit(p[i]):
				digits = true
			default:
				return false
			}
		}
		if letters && digits && len(p) >= 4 {
			return false
		}
	}
	return true
}

// hasCountingRun reports six characters or more in a row that repeat or
// count up ("000000", "abcdef", "TUVWXYZ", "123456"): a made-up value.
func hasCountingRun(v string) bool {
	same, up := 1, 1
	for i := 1; i < len(v); i++ {
		if v[i] == v[i-1] {
			same++
		} else {
			same = 1
		}
		if isAlnum(v[i]) && v[i] == v[i-1]+1 {
			up++
		} else {
			up = 1
		}
		if same >= 6 || up >= 6 {
			return true
		}
	}
	return false
}

// hasFileExtension: a value ending in a file's extension ("img.png").
func hasFileExtension(v string) bool {
	dot := strings.LastIndexByte(v, '.')
	return dot > 0 && fileExtensions[strings.ToLower(v[dot+1:])]
}
