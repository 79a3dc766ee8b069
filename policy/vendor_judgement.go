package policy

import (
	"strings"
	"sync"
)

// The rule set knows more about tokens than their shapes. The values its
// allowlists name literally are credentials published in documentation
// (the keys of Firebase's samples, NuGet's sample password): no secrets,
// wherever they stand. And a key's value whose prefix names a vendor the
// engine knows only from the rule set ("dapi", "sm_pat_", "glc_") is held
// to what that vendor's rules allow — shape, entropy and allowlists: a
// value none of them accepts is a malformed or made-up token, not a
// secret. Where a built-in token detector knows the vendor, its pattern is
// the engine's judgement of the shape: it accepts formats the rule set
// does not (Slack user tokens with two number groups, Hugging Face tokens
// with digits).

// vendorClaim is a rule's claim on tokens starting with prefix.
type vendorClaim struct {
	prefix string
	fold   bool // prefix is lower-case, compared regardless of case
	rule   int
}

// claimKeyLen is how many leading bytes (lower-cased) index the claims:
// every claim is at least that long.
const claimKeyLen = 3

// vendorClaims indexes the rules' claims by their first bytes.
var vendorClaims = sync.OnceValue(func() map[string][]vendorClaim {
	m := map[string][]vendorClaim{}
	for i := range vendorRules {
		r := &vendorRules[i]
		for _, p := range r.claims {
			if len(p) < claimKeyLen {
				continue
			}
			key := strings.ToLower(p[:claimKeyLen])
			m[key] = append(m[key], vendorClaim{prefix: p, fold: r.claimsFoldCase, rule: i})
		}
	}
	return m
})

// builtinTokenPrefixes are the keywords of the built-in token detectors
// (lower-case): the vendors whose token shapes the engine knows itself.
var builtinTokenPrefixes []string

// builtinTokenShapes are the built-in token detectors' shapes by their
// lower-case prefixes ("xox", "sk-", "pypi-"): a value spelled with one is
// held to the detector's shape.
var builtinTokenShapes []builtinShape

type builtinShape struct {
	prefix string
	shape  func(v string) bool
}

func init() {
	for _, d := range keywordDetectors {
		if d.token {
			builtinTokenPrefixes = append(builtinTokenPrefixes, d.keywords...)
			for _, kw := range d.keywords {
				if d.shape != nil && kw == strings.ToLower(kw) {
					builtinTokenShapes = append(builtinTokenShapes, builtinShape{prefix: kw, shape: d.shape})
				}
			}
		}
	}
}

// judgement is how much of the rule set's knowledge a value is held to.
type judgement int

const (
	// judgeExamples: the published examples only (a built-in token).
	judgeExamples judgement = iota
	// judgeShape: also the shape a claiming rule or built-in token
	// detector gives a key's value.
	judgeShape
)

// vendorRejects reports a value the rule set says is no secret: a
// published example, one its vendor's allowlists hold (AWS's documented
// keys end in EXAMPLE), or, judged as a key's value, one holding a stop
// word of the global allowlist or spelled with a vendor's prefix that none
// of the vendor's shapes accepts.
func vendorRejects(v string, how judgement) bool {
	if publishedExample(v) || claimAllowlisted(v) {
		return true
	}
	if how != judgeShape {
		return false
	}
	if globalStopword(v) {
		return true
	}
	if !isTokenValue(v) {
		return false
	}
	claimed := false
	switch known, fits := builtinShapeFits(v); {
	case known && fits:
		return false
	case known:
		claimed = true
	case builtinToken(v):
		return false
	}
	for _, c := range claimsOf(v) {
		if !hasClaimPrefix(v, c) {
			continue
		}
		if compiledVendorRules[c.rule]().accepts(v) {
			return false
		}
		claimed = true
	}
	return claimed
}

// globalStopword reports a value holding one of the stop words of the rule
// set's global allowlist (the alphabet in order): made up, whatever key it
// is given to.
func globalStopword(v string) bool {
	for _, a := range vendorGlobal() {
		if len(a.stopwords) > 0 && containsFold(v, a.stopwords) {
			return true
		}
	}
	return false
}

// builtinShapeFits reports whether v starts with the prefix of a built-in
// token detector, spelled as the vendor spells it, and whether one such
// detector's shape is v's.
func builtinShapeFits(v string) (known, fits bool) {
	for _, sh := range builtinTokenShapes {
		if strings.HasPrefix(v, sh.prefix) {
			known = true
			if sh.shape(v) {
				return true, true
			}
		}
	}
	return known, false
}

// claimAllowlisted reports a token that an allowlist of a rule claiming
// its prefix holds: the rule set's knowledge of published values applies
// to the tokens the built-in detectors find too.
func claimAllowlisted(v string) bool {
	if len(v) < claimKeyLen {
		return false
	}
	for _, c := range claimsOf(v) {
		if !hasClaimPrefix(v, c) {
			continue
		}
		r := compiledVendorRules[c.rule]()
		for _, a := range r.allow[len(r.allow)-len(r.allowlists):] {
			if a.allows(v, v, 0, len(v)) {
				return true
			}
		}
	}
	return false
}

// claimsOf returns the claims indexed by v's first bytes (v holds
// claimKeyLen bytes or more).
func claimsOf(v string) []vendorClaim {
	var key [claimKeyLen]byte
	for i := range key {
		key[i] = asciiLowerByte(v[i])
	}
	return vendorClaims()[string(key[:])]
}

// builtinToken reports a value with the prefix of a built-in token
// detector.
func builtinToken(v string) bool {
	for _, p := range builtinTokenPrefixes {
		if len(v) >= len(p) && strings.EqualFold(v[:len(p)], p) {
			return true
		}
	}
	return false
}

func hasClaimPrefix(token string, c vendorClaim) bool {
	if len(token) < len(c.prefix) {
		return false
	}
	if c.fold {
		return strings.EqualFold(token[:len(c.prefix)], c.prefix)
	}
	return strings.HasPrefix(token, c.prefix)
}

// publishedExampleSet is publishedExamples, for lookups.
var publishedExampleSet = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, len(publishedExamples))
	for _, ex := range publishedExamples {
		m[ex] = true
	}
	return m
})

// publishedExample reports a value that is a credential the rule set's
// allowlists name literally.
func publishedExample(v string) bool {
	return len(v) >= minPublishedExample && publishedExampleSet()[v]
}

// minPublishedExample is the length of the shortest published example.
var minPublishedExample = func() int {
	n := 0
	for _, ex := range publishedExamples {
		if n == 0 || len(ex) < n {
			n = len(ex)
		}
	}
	return n
}()

// accepts reports whether the rule, run on token alone, finds a secret in
// it from its start: one that passes the rule's entropy threshold and
// allowlists.
func (r *compiledVendorRule) accepts(token string) bool {
	m := r.re.FindStringSubmatchIndex(token)
	if m == nil || m[0] != 0 {
		return false
	}
	return len(r.accept(&scan{text: token}, 0, len(token), m, nil)) > 0
}

// isTokenValue reports a value made of the characters vendor tokens are
// made of, long enough to be one: only such a value is judged as a token.
func isTokenValue(v string) bool {
	if len(v) < minJudgedToken {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && strings.IndexByte("_-.+/=~:", c) < 0 {
			return false
		}
	}
	return true
}

// minJudgedToken is the shortest value judged as a vendor token.
const minJudgedToken = 12
