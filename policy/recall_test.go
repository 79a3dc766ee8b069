package policy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// recallCase is a rule of the detectors beyond the project's own corpus:
// texts whose leaks must not survive redaction, and look-alikes that must
// come out unchanged.
type recallCase struct {
	rule   string
	caught []struct{ text, leak string }
	stay   []string
}

type leakIn = struct{ text, leak string }

var recallCases = []recallCase{
	{
		rule: "a phone word of any language lets its regions read the number",
		caught: []leakIn{
			{"Telepono: 09171234567", "1234567"},
			{"Phone: 5321234567", "1234567"},
			{"Cep no: 0532 123 45 67", "123 45 67"},
			{"Telefon: 030 1234567", "1234567"},
			{"טלפון: 03-6234567", "6234567"},
			{"Teléfono: 612 34 56 78", "34 56 78"},
			{"My CN number is 13812345678", "12345678"},
			{"我的手机号是13812345678", "12345678"},
		},
		stay: []string{
			"the build took 5321234567 ns",
			"my credit card number is 36168002586008",
			"order number 09171234567 shipped",
			"Phone: 12345",
		},
	},
	{
		rule: "a bare national number is a phone when it is a mobile number of a region writing numbers so",
		caught: []leakIn{
			{"09171234567", "09171234567"},
			{"First: +639171234567, Second: 09181234567", "09181234567"},
			{"Ikinci: 05359876543", "05359876543"},
			{"07700 900123", "900123"},
		},
		stay: []string{
			"0123456789",
			"00000012345",
			"invoice 09171234567",
			"01234567890 rows",
			"0111111111",
			"EE38 2200 2210  014 5686",
		},
	},
}

func TestRecallRules(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, c := range recallCases {
		t.Run(c.rule, func(t *testing.T) {
			t.Parallel()
			for _, tc := range c.caught {
				out := r.Redact("ws", tc.text).Text
				require.NotContains(t, out, tc.leak, "%q → %q", tc.text, out)
			}
			for _, text := range c.stay {
				out := r.Redact("ws", text)
				require.Equal(t, text, out.Text, "counts %v", out.Counts)
			}
		})
	}
}
