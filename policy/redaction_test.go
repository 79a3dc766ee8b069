package policy_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/policy/policytest"
)

var (
	Corpus   = policytest.Corpus
	sentence = policytest.Sentence
)

func TestEveryDetectorMasksItsCorpus(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for kind, values := range Corpus {
		for _, v := range values {
			out := r.Redact("ws", sentence(kind, v))
			require.NotContains(t, out.Text, v, "%s %q", kind, v)
			require.Equal(t, map[string]int{kind: 1}, out.Counts, "%s %q → %q", kind, v, out.Text)
			require.Contains(t, out.Text, "[REDACTED:"+kind+"]")
			require.Empty(t, out.Rejected)
		}
	}
}

func TestDetectorsLeaveOrdinaryTextAlone(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, text := range []string{
		"my favourite colour is blue",
		"meet me on 2026-11-25 at 10:30:45",
		"order 4111 1111 1111 1112 failed the checksum",   // not a Luhn-valid card
		"DE89 3704 0044 0532 0130 02 is not a valid IBAN", // bad check digits
		"version 1.2.3.4567 and 300.1.1.1",
		"the cat weighs 12 kg and the password policy changed",
		"email me at the office",
		"sk-short",
	} {
		out := r.Redact("ws", text)
		require.Equal(t, text, out.Text)
		require.Empty(t, out.Counts, text)
	}
}

func TestActionsAndWorkspacePolicies(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{
		Default: policy.PolicyConfig{
			Actions:  map[string]policy.Action{"email": policy.ActionHash, "private_key": policy.ActionReject},
			Disabled: []string{"ip_address"},
		},
		Workspaces: map[string]policy.PolicyConfig{
			"acme": {
				Actions: map[string]policy.Action{"email": policy.ActionDrop},
				Rules:   []policy.RuleConfig{{Name: "employee_id", Pattern: `EMP-\d{6}`, Action: policy.ActionMask}},
			},
		},
	})
	require.NoError(t, err)

	out := r.Redact("other", "mail jane@example.com from 10.0.0.1")
	require.Regexp(t, regexp.MustCompile(`^mail \[email:[0-9a-f]{12}\] from 10\.0\.0\.1$`), out.Text, "hashed; IPs disabled")
	again := r.Redact("other", "mail jane@example.com from 10.0.0.1")
	require.Equal(t, out.Text, again.Text, "hashing is stable")

	out = r.Redact("acme", "mail jane@example.com about EMP-123456")
	require.Equal(t, "mail  about [REDACTED:employee_id]", out.Text)
	require.Equal(t, map[string]int{"email": 1, "employee_id": 1}, out.Counts)

	out = r.Redact("acme", Corpus["private_key"][0])
	require.Equal(t, []string{"private_key"}, out.Rejected, "rejection is inherited from the default")
	require.NotContains(t, out.Text, "MIIEowIBAAKCAQEA7bq")

	for _, bad := range []policy.FileConfig{
		{Default: policy.PolicyConfig{Actions: map[string]policy.Action{"email": "shred"}}},
		{Default: policy.PolicyConfig{Actions: map[string]policy.Action{"ssn": policy.ActionMask}}},
		{Default: policy.PolicyConfig{Rules: []policy.RuleConfig{{Name: "x", Pattern: "("}}}},
		{Default: policy.PolicyConfig{Rules: []policy.RuleConfig{{Name: "email", Pattern: "x"}}}},
	} {
		_, err := policy.NewRedactor(bad)
		require.Error(t, err)
	}
}

func FuzzRedact(f *testing.F) {
	for kind, values := range Corpus {
		for _, v := range values {
			f.Add(sentence(kind, v))
		}
	}
	f.Add("")
	f.Add("plain words 123-45-6789 ::1 -----BEGIN PRIVATE KEY-----")
	r, err := policy.NewRedactor(policy.FileConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out := r.Redact("ws", text)
		// Redacting twice finds nothing new: nothing a detector wants is left.
		second := r.Redact("ws", out.Text)
		if second.Text != out.Text {
			t.Fatalf("not a fixed point:\n%q\n%q", out.Text, second.Text)
		}
		for kind, n := range out.Counts {
			if n <= 0 || !strings.Contains(out.Text, "[REDACTED:"+kind+"]") {
				t.Fatalf("count %d for %s but no marker in %q", n, kind, out.Text)
			}
		}
	})
}
