package policy

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// ruleDetectors are the vendor rules' detectors by rule id, so that a test
// can run one rule alone.
var ruleDetectors = sync.OnceValue(func() map[string]*keywordDetector {
	byID := map[string]*keywordDetector{}
	for i, d := range vendorDetectors() {
		byID[vendorRules[i].id] = d
	}
	return byID
})

func vendorRuleByID(t *testing.T, id string) *vendorRule {
	t.Helper()
	for i := range vendorRules {
		if vendorRules[i].id == id {
			return &vendorRules[i]
		}
	}
	t.Fatalf("no vendor rule %s", id)
	return nil
}

// ruleSecrets runs one vendor rule alone on text and returns what it finds.
func ruleSecrets(t *testing.T, id, text string) []string {
	t.Helper()
	d := ruleDetectors()[id]
	require.NotNil(t, d, "no vendor rule %s", id)
	eng, err := newEngine([]*keywordDetector{d}, nil)
	require.NoError(t, err)
	var found []string
	for _, f := range eng.candidates(text, &scanConfig{}, findMarkers(text), []span{{0, len(text)}}) {
		if f.kind == d.kind && (f.priority == priorityToken || f.priority == priorityToken+1) {
			found = append(found, text[f.start:f.end])
		}
	}
	return found
}

// vendorExamples is testdata/vendor_rule_examples.json: true positives of
// the rules, written for this project.
type vendorExamples struct {
	TruePositives []struct{ Rule, Text, Secret string }
}

// namedVendorRules are the rules of the vendors an independent corpus of
// agent memory found missed before the rules were taken from gitleaks.
var namedVendorRules = []string{
	"dockerhub-pat", "gitlab-deploy-token", "vault-service-token", "vault-batch-token", "mailgun-private-api-token",
	"linear-api-key", "postman-api-token", "doppler-api-token", "grafana-api-key", "grafana-cloud-api-token",
	"grafana-service-account-token", "telegram-bot-api-token", "databricks-api-token",
}

// TestVendorRulesOnTheirExamples: the project's examples are found by their
// rule and masked by the redactor; a token of each named vendor, made from
// its rule's expression, is masked by the redactor in running text; prose
// that only names the vendors comes out unchanged.
func TestVendorRulesOnTheirExamples(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/vendor_rule_examples.json")
	require.NoError(t, err)
	var ex vendorExamples
	require.NoError(t, json.Unmarshal(raw, &ex))
	require.NotEmpty(t, ex.TruePositives)
	r, err := NewRedactor(FileConfig{})
	require.NoError(t, err)
	for _, tp := range ex.TruePositives {
		require.Contains(t, ruleSecrets(t, tp.Rule, tp.Text), tp.Secret, "%s in %q", tp.Rule, tp.Text)
		out := r.Redact("ws", tp.Text)
		require.NotContains(t, out.Text, tp.Secret, "%s: the redactor leaves it in %q", tp.Rule, out.Text)
	}

	global := compileAllowlists(vendorGlobalAllowlists)
	for i, id := range namedVendorRules {
		rule := vendorRuleByID(t, id)
		re := regexp.MustCompile(rule.regex)
		parsed, err := syntax.Parse(rule.regex, syntax.Perl)
		require.NoError(t, err)
		allow := append(append([]compiledAllowlist{}, global...), compileAllowlists(rule.allowlists)...)
		rnd := rand.New(rand.NewPCG(uint64(i), 7))
		found := false
		for try := 0; try < 300 && !found; try++ {
			var sb strings.Builder
			sample(parsed.Simplify(), rnd, &sb)
			text := "Saved for later, the setup notes: " + sb.String() + " (do not share)\n"
			want := referenceSecrets(re, rule, allow, text)
			if len(want) == 0 {
				continue
			}
			found = true
			out := r.Redact("ws", text)
			require.NotContains(t, out.Text, want[0], "%s: the redactor leaves it in %q", id, out.Text)
		}
		require.True(t, found, "no sample of %s passes its own checks", id)
	}

	for _, prose := range []string{
		"We moved the images from Docker Hub to GitLab's registry last week.",
		"Vault keeps the database credentials; ask the platform team for access.",
		"Mailgun sends the receipts, and the key-value store caches the templates.",
		"The Linear board has a column for Postman collections and Doppler configs.",
		"Grafana dashboards show the Telegram bot's latency next to Databricks jobs.",
	} {
		require.Equal(t, prose, r.Redact("ws", prose).Text, "prose naming vendors is not a secret")
	}
}

// TestVendorRulesFindWhatTheirExpressionFinds checks every rule against
// its own expression run on the whole text, as gitleaks runs it: on a text
// made from the expression, the rule — run only at keyword hits, in a
// window, anchored, after its cheap checks — finds the same secret.
func TestVendorRulesFindWhatTheirExpressionFinds(t *testing.T) {
	t.Parallel()
	global := compileAllowlists(vendorGlobalAllowlists)
	for i := range vendorRules {
		rule := &vendorRules[i]
		t.Run(rule.id, func(t *testing.T) {
			t.Parallel()
			re := regexp.MustCompile(rule.regex)
			parsed, err := syntax.Parse(rule.regex, syntax.Perl)
			require.NoError(t, err)
			parsed = parsed.Simplify()
			allow := append(append([]compiledAllowlist{}, global...), compileAllowlists(rule.allowlists)...)
			rnd := rand.New(rand.NewPCG(uint64(i), 28))
			for try := 0; try < 300; try++ {
				var sb strings.Builder
				sample(parsed, rnd, &sb)
				text := "note: " + sb.String() + "\n"
				if !containsAnyKeyword(text, rule.keywords) {
					text += " " + rule.keywords[0] + "\n"
				}
				want := referenceSecrets(re, rule, allow, text)
				if len(want) == 0 {
					continue // the sample does not pass the rule's own checks: another
				}
				got := ruleSecrets(t, rule.id, text)
				for _, w := range want {
					require.Contains(t, got, w, "in %q", text)
				}
				return
			}
			t.Fatalf("no sample of %s passes its own expression, entropy and allowlists", rule.regex)
		})
	}
}

// TestVendorRulesLeaveOutGenericRules checks what the generator skips
// stays skipped, and that every rule has keywords the automaton can find.
func TestVendorRulesLeaveOutGenericRules(t *testing.T) {
	t.Parallel()
	require.NotEmpty(t, vendorRules)
	require.Contains(t, vendorRulesSource, "gitleaks v8.30.1")
	for _, r := range vendorRules {
		require.NotEqual(t, "generic-api-key", r.id)
		require.NotEmpty(t, r.keywords, r.id)
		for _, k := range r.keywords {
			require.Equal(t, strings.ToLower(k), k, r.id)
		}
	}
	for _, kind := range []struct{ id, kind string }{
		{"github-pat", KindGitHubToken}, {"slack-bot-token", KindSlackToken}, {"aws-access-token", KindAWSAccessKey},
		{"openai-api-key", KindOpenAIKey}, {"jwt", KindJWT}, {"databricks-api-token", KindAPIKey}, {"dockerhub-pat", KindAPIKey},
	} {
		require.Equal(t, kind.kind, vendorRuleByID(t, kind.id).kind, kind.id)
	}
}

func containsAnyKeyword(text string, keywords []string) bool {
	lower := strings.ToLower(text)
	for _, k := range keywords {
		if strings.Contains(lower, k) {
			return true
		}
	}
	return false
}

// referenceSecrets is what gitleaks reports for a rule on text: every
// match of the expression, its secret (secretGroup, else the first group
// that matched, else the whole match), above the entropy threshold, not
// held by an allowlist.
func referenceSecrets(re *regexp.Regexp, rule *vendorRule, allow []compiledAllowlist, text string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
		ss, se := m[0], m[1]
		if rule.secretGroup > 0 {
			ss, se = m[2*rule.secretGroup], m[2*rule.secretGroup+1]
		} else {
			for g := 2; g+1 < len(m); g += 2 {
				if m[g] >= 0 && m[g+1] > m[g] {
					ss, se = m[g], m[g+1]
					break
				}
			}
		}
		if ss < 0 || se <= ss {
			continue
		}
		secret := strings.TrimRight(text[ss:se], "\r\n")
		if rule.entropy > 0 && shannonEntropy(secret) <= rule.entropy {
			continue
		}
		allowed := false
		for _, a := range allow {
			allowed = allowed || a.allows(text, secret, m[0], m[1])
		}
		if !allowed {
			out = append(out, secret)
		}
	}
	return out
}

// sample writes a random string that the expression re may match: the
// fewest repetitions, a random branch, random characters of each class
// (printable ASCII where the class has some).
func sample(re *syntax.Regexp, rnd *rand.Rand, sb *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && rnd.IntN(2) == 0 {
				r = asciiUpperRune(asciiLowerRune(r))
			}
			sb.WriteRune(r)
		}
	case syntax.OpCharClass:
		var printable []rune
		for i := 0; i < len(re.Rune); i += 2 {
			for r := max(re.Rune[i], '!'); r <= min(re.Rune[i+1], '~'); r++ {
				printable = append(printable, r)
			}
		}
		switch {
		case len(printable) > 0:
			sb.WriteRune(printable[rnd.IntN(len(printable))])
		case len(re.Rune) > 0 && utf8.ValidRune(re.Rune[0]):
			sb.WriteRune(re.Rune[0])
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		sb.WriteByte('x')
	case syntax.OpCapture:
		sample(re.Sub[0], rnd, sb)
	case syntax.OpPlus:
		sample(re.Sub[0], rnd, sb)
	case syntax.OpRepeat:
		for range re.Min {
			sample(re.Sub[0], rnd, sb)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			sample(sub, rnd, sb)
		}
	case syntax.OpAlternate:
		sample(re.Sub[rnd.IntN(len(re.Sub))], rnd, sb)
	}
	// OpStar and OpQuest: no repetition; assertions and empty matches: nothing.
}

// TestAllowlistFirstBytesAdmitEveryMatch checks the first-byte check that
// lets an anchored allowlist expression be passed over: on texts made
// from each expression (cases swapped, letters that fold beyond ASCII
// put in), every match starts with a byte the check admits.
func TestAllowlistFirstBytesAdmitEveryMatch(t *testing.T) {
	t.Parallel()
	lists := append(append(append([]vendorAllowlist{}, vendorGlobalAllowlists...), genericKeyAllowlists...), genericPairAllowlists...)
	for i := range vendorRules {
		lists = append(lists, vendorRules[i].allowlists...)
	}
	anchored := 0
	rnd := rand.New(rand.NewPCG(7, 13))
	for _, l := range lists {
		for _, ar := range l.regexes {
			first := anchoredFirstBytes(ar.regex)
			if first == nil {
				continue
			}
			anchored++
			re := regexp.MustCompile(ar.regex)
			parsed, err := syntax.Parse(ar.regex, syntax.Perl)
			require.NoError(t, err)
			parsed = parsed.Simplify()
			for range 200 {
				var sb strings.Builder
				sample(parsed, rnd, &sb)
				for _, text := range []string{sb.String(), strings.ToUpper(sb.String()), strings.NewReplacer("k", "\u212a", "s", "\u017f").Replace(sb.String())} {
					if re.MatchString(text) {
						require.True(t, text != "" && first.has(text[0]), "%q matches %s", text, ar.regex)
					}
				}
			}
		}
	}
	require.Positive(t, anchored)
	require.NotNil(t, anchoredFirstBytes(`^\$(?:\d+|{\d+})$`))
	require.Nil(t, anchoredFirstBytes(`(?i)^true|false|null$`))
	kelvin := anchoredFirstBytes(`^(?i:k+)$`)
	require.True(t, kelvin.has("\u212a"[0]) && kelvin.has('K') && kelvin.has('k'))
}
