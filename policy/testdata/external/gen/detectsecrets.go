package main

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"
)

// detectSecretsKinds maps detect-secrets' plugin tests to the engine's
// kinds; "" marks a plugin whose findings the engine does not claim.
var detectSecretsKinds = map[string]string{
	"artifactory_test.py":          "api_key",
	"aws_key_test.py":              "aws_access_key",
	"azure_storage_key_test.py":    "api_key",
	"basic_auth_test.py":           "connection_string",
	"cloudant_test.py":             "password",
	"discord_test.py":              "api_key",
	"github_token_test.py":         "github_token",
	"gitlab_token_test.py":         "api_key",
	"ibm_cloud_iam_test.py":        "api_key",
	"ibm_cos_hmac_test.py":         "api_key",
	"ip_public_test.py":            "ip_address",
	"jwt_test.py":                  "jwt",
	"keyword_test.py":              "password",
	"mailchimp_key_test.py":        "api_key",
	"npm_test.py":                  "api_key",
	"openai_test.py":               "openai_key",
	"private_key_test.py":          "private_key",
	"pypi_token_test.py":           "api_key",
	"sendgrid_test.py":             "api_key",
	"slack_test.py":                "slack_token",
	"softlayer_test.py":            "api_key",
	"square_oauth_test.py":         "api_key",
	"stripe_key_test.py":           "api_key",
	"telegram_token_test.py":       "api_key",
	"twilio_test.py":               "api_key",
	"high_entropy_strings_test.py": "",
}

// keywordBenignReasons are the upstream comments that say why a keyword
// test line holds no secret at all; the keyword plugin's other negatives
// hold a secret it skips only for the file type (quotes a language
// requires), which another reader would rightly mask.
var keywordBenignReasons = []string{"Nothing in the quotes", "'fake' in the secret", "Has a ${", "too noisy"}

// buildDetectSecrets reads the parametrize tables of detect-secrets' plugin
// tests — (payload, should_flag), a payload alone (always flagged), and
// (content, expected_output) with the secrets listed — and the keyword
// plugin's tables of (line, expected secret or None).
func buildDetectSecrets(src snapshot) (*corpusFile, error) {
	files, err := src.list("tests/plugins")
	if err != nil {
		return nil, err
	}
	c := &corpusFile{}
	for _, f := range files {
		base := path.Base(f)
		kind, known := detectSecretsKinds[base]
		if !known {
			continue
		}
		text, err := src.show(f)
		if err != nil {
			return nil, err
		}
		m, err := parsePyModule(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if kind == "" {
			c.exclude("detect-secrets "+f, strings.TrimSuffix(base, "_test.py"),
				"strings flagged by entropy alone, without a key or a vendor format; the engine does not claim them")
			continue
		}
		if base == "keyword_test.py" {
			detectSecretsKeyword(c, m, f)
			continue
		}
		for _, t := range m.tables {
			for _, row := range t.rows {
				source := fmt.Sprintf("detect-secrets %s:%d", f, row.endLine)
				if err := detectSecretsRow(c, m, t.names, row, kind, base, source); err != nil {
					c.exclude("detect-secrets "+f, kind, "row not extracted: "+err.Error())
				}
			}
		}
	}
	return c, nil
}

func detectSecretsRow(c *corpusFile, m *pyModule, names []string, row *pyNode, kind, file, source string) error {
	v, err := m.eval(row)
	if err != nil {
		return err
	}
	cells := []pyValue{v}
	if len(names) > 1 {
		if v.kind != "seq" || len(v.elems) != len(names) {
			return fmt.Errorf("row shape")
		}
		cells = v.elems
	}
	if cells[0].kind != "str" {
		return fmt.Errorf("payload is not a string")
	}
	text := cells[0].s
	switch {
	case len(names) == 1: // every payload is flagged
	case names[1] == "should_flag" && cells[1].kind == "bool":
		if !cells[1].b {
			if kind == "ip_address" {
				if _, err := netip.ParseAddr(strings.TrimSpace(text)); err == nil {
					c.exclude("detect-secrets tests/plugins/"+file, kind,
						"a private or reserved address, negative for a public-IP detector only (the engine masks every address)")
					return nil
				}
			}
			c.addSecretNegative(benign{Text: text, Source: source}, "detect-secrets tests/plugins/"+file)
			return nil
		}
	case names[1] == "expected_output":
		c.exclude("detect-secrets tests/plugins/"+file, kind,
			"a table of a helper's outputs (account names, key ids found near a secret), not of detector findings")
		return nil
	default:
		return fmt.Errorf("table %v", names)
	}
	secret := detectSecretsSecret(text, file, kind)
	if secret == "" {
		return fmt.Errorf("no secret found in %q", text)
	}
	if kind == "aws_access_key" && !regexp.MustCompile(`^(?:AKIA|ASIA|ABIA|ACCA|A3T)`).MatchString(secret) {
		kind = "aws_secret_key"
	}
	c.add(positive{Kind: kind, Text: text, Secret: secret, Source: source})
	return nil
}

var (
	basicAuthSecret  = regexp.MustCompile(`://[^:/@\s]+:([^@\s]+)@`)
	quotedSecret     = regexp.MustCompile("\"([^\"]{6,})\"|'([^']{6,})'|`([^`]{6,})`")
	assignedSecret   = regexp.MustCompile(`[:=]\s*([^\s:=/][^\s:=]{5,})\s*$`)
	privateKeyHeader = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----\n([^\n]+)`)
	ipv4             = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
)

// detectSecretsSecret picks the secret out of a flagged payload: upstream
// tests only say that the line is flagged, so the value is taken the way a
// reader would — the password of a URL, the quoted value, the assigned
// value, else the longest token.
func detectSecretsSecret(text, file, kind string) string {
	if kind == "ip_address" {
		return ipv4.FindString(text)
	}
	if file == "private_key_test.py" {
		if m := privateKeyHeader.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	if m := basicAuthSecret.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	if ms := quotedSecret.FindAllStringSubmatch(text, -1); ms != nil {
		best := ""
		for _, m := range ms {
			for _, g := range m[1:] {
				if len(g) > len(best) {
					best = g
				}
			}
		}
		return best
	}
	if m := assignedSecret.FindStringSubmatch(text); m != nil {
		return strings.TrimRight(m[1], `,;"'`)
	}
	best := ""
	for _, tok := range strings.Fields(text) {
		tok = strings.Trim(tok, `"'(),;`)
		if i := strings.LastIndex(tok, "://"); i >= 0 { // a key in a URL's path
			tok = tok[strings.LastIndex(tok, "/")+1:]
		}
		if len(tok) > len(best) {
			best = tok
		}
	}
	return best
}

// detectSecretsKeyword reads the keyword plugin's module-level tables of
// (line, expected secret or None).
func detectSecretsKeyword(c *corpusFile, m *pyModule, f string) {
	var names []string
	for name := range m.consts {
		if strings.HasSuffix(name, "_TEST_CASES") {
			names = append(names, name)
		}
	}
	sortStrings(names)
	for _, name := range names {
		list := m.consts[name]
		if list.kind != "list" {
			continue
		}
		for _, row := range list.elems {
			source := fmt.Sprintf("detect-secrets %s:%d %s", f, row.endLine, name)
			v, err := m.eval(row)
			if err != nil || v.kind != "seq" || len(v.elems) != 2 || v.elems[0].kind != "str" {
				c.exclude("detect-secrets "+f, "keyword", "row not extracted")
				continue
			}
			line, want := v.elems[0].s, v.elems[1]
			if want.kind == "str" {
				c.add(positive{Kind: "password", Text: line, Secret: want.s, Source: source})
				continue
			}
			comment := m.comment(row)
			benignReason := false
			for _, r := range keywordBenignReasons {
				if strings.Contains(comment, r) {
					benignReason = true
				}
			}
			if !benignReason {
				c.exclude("detect-secrets "+f, "keyword",
					"a negative only for the file type (the plugin requires quotes or a syntax there); the line holds a value another reader would mask")
				continue
			}
			c.addBenign(benign{Text: line, Source: source})
		}
	}
}
