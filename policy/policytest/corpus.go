// Package policytest holds a corpus of sensitive values, several per
// built-in redaction detector, that tests push through the redactor and
// through the whole gateway. It is test code: no binary imports it.
package policytest

// Corpus maps a detector kind to values it must catch.
var Corpus = map[string][]string{
	"email":          {"jane.doe+memo@example.co.uk", "ops@mail.acme.io"},
	"phone":          {"+44 20 7946 0958", "(555) 123-4567", "+14155550123"},
	"payment_card":   {"4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"},
	"iban":           {"DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"},
	"ip_address":     {"192.168.10.42", "2001:db8:85a3::8a2e:370:7334"},
	"aws_access_key": {"AKIA4QZ7R2M6XK3PLW5N"},
	"github_token":   {"ghp_abcdefghijklmnopqrstuvwxyzABCDEF0123", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"},
	"openai_key":     {"sk-proj-abcdefghijklmnopqrstuvwxyz012345"},
	"slack_token":    {"xoxb-123456789012-abcdefghijklmnop"},
	"jwt":            {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
	"private_key":    {"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----"},
	"password":       {"hunter2!Secret"},
}

// Sentence embeds a value the way people write it.
func Sentence(kind, value string) string {
	if kind == "password" {
		return "my login is password=" + value + " ok"
	}
	return "note: " + value + " (keep it safe)"
}

// Needles are the parts of each value that must never be seen again (a
// private key's body, a password without its label).
func Needles() []string {
	var out []string
	for kind, values := range Corpus {
		for _, v := range values {
			if kind == "private_key" {
				v = "MIIEowIBAAKCAQEA7bq"
			}
			out = append(out, v)
		}
	}
	return out
}
