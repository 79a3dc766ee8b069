package policy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVendorJudgement: what the rule set knows beyond a token's shape
// decides, for a built-in token (examples only) and for a key's value
// (also the shape, when no built-in detector knows the vendor).
func TestVendorJudgement(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		value   string
		how     judgement
		rejects bool
	}{
		{"a documented example key (a claiming rule's allowlist: .+EXAMPLE$), as a token", "AKIAQ4W7N2L8XEXAMPLE", judgeExamples, true},
		{"a documented example key, as a key's value", "AKIAQ4W7N2L8XEXAMPLE", judgeShape, true},
		{"an AWS key", "AKIAQ4W7N2L8XZ5RT3MB", judgeShape, false},
		{"an allowlist's literal (Firebase sample)", "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU", judgeExamples, true},
		{"a Google key", "AIzaQk8mZ2pLw4xR7tY9vB3nC6dF1gH5jK0sE2q", judgeExamples, false},
		{"a published password (NuGet's docs)", "33f!!lloppa", judgeShape, true},
		{"a made-up value is no published one", "sk_abcdefghijklmnopqrstuvwxyz123", judgeExamples, false},
		{"a key's value holding the alphabet in order (a global stop word)", "tk_abcdefghijklmnopqrstuvwxyz42", judgeShape, true},
		{"a rule-set-only prefix, malformed", "dapi123456789012345678a9bc01234defg5", judgeShape, true},
		{"a rule-set-only prefix, well formed", "dapi9f8e7d6c5b4a39281706f5e4d3c2b1a0", judgeShape, false},
		{"a rule-set-only prefix, malformed, as a token", "dapi123456789012345678a9bc01234defg5", judgeExamples, false},
		{"a built-in prefix the rule set shapes otherwise", "xoxp-270197734496-894275522697-PIQ02LlMju9rYJJpN4s9v120", judgeShape, false},
		{"a built-in prefix, the value not the vendor's shape (no team id)", "xoxp-8406417723", judgeShape, true},
		{"a built-in prefix, ids too short for Slack's", "xoxp-4821-4821-4821-9b3e07c2d5a8f1e64c0b7d29a3f5e8c1", judgeShape, true},
		{"a built-in prefix, as a token: its detector judges it", "xoxp-8406417723", judgeExamples, false},
		{"a built-in prefix, the value not the vendor's shape (no team id)", "xoxp-8406417723", judgeShape, true},
		{"a built-in prefix, ids too short for Slack's", "xoxp-4821-4821-4821-9b3e07c2d5a8f1e64c0b7d29a3f5e8c1", judgeShape, true},
		{"a built-in prefix, as a token: its detector judges it", "xoxp-8406417723", judgeExamples, false},
		{"no claim", "Zk8mQ2Lw4pX7tRq1Vb3n", judgeShape, false},
		{"no token", "dapi!2024", judgeShape, false},
	} {
		require.Equal(t, c.rejects, vendorRejects(c.value, c.how), c.name)
	}
}

// TestVendorClaimsAreDistinctive: only prefixes that name a vendor claim
// tokens — not a common keyword's, not one a later literal keys.
func TestVendorClaimsAreDistinctive(t *testing.T) {
	t.Parallel()
	claims := map[string][]string{}
	for _, r := range vendorRules {
		claims[r.id] = r.claims
	}
	require.Contains(t, claims["aws-access-token"], "AKIA")
	require.Equal(t, []string{"xoxb-"}, claims["slack-bot-token"])
	require.Empty(t, claims["openai-api-key"], "sk- is every OpenAI key's and others'")
	require.Empty(t, claims["jwt"], "ey is too short")
	require.Empty(t, claims["curl-auth-user"], "a command line is no token")
	require.Contains(t, publishedExamples, "33f!!lloppa")
	require.NotEmpty(t, genericKeyAllowlists)
}

func TestJWTHeaderNamesAlg(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		header string
		ok     bool
	}{
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", true},       // {"alg":"HS256","typ":"JWT"}
		{"eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0", true},        // {"typ":"JWT","alg":"none"}
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXV", true},          // cut short: read as far as it decodes
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ", false},       // whole, but the object does not close
		{"eyJ0eXAiOiJKV1QiLCJraWQiOiJrMSJ9", false},          // {"typ":"JWT","kid":"k1"}: no algorithm
		{"eyJhbasdGciOiJIUaddasdasfsasdasdzI1NiIasd", false}, // not an object's base64
	} {
		require.Equal(t, c.ok, jwtHeaderNamesAlg(c.header+".eyJzdWIiOiIxIn0.sig"), c.header)
	}
}
