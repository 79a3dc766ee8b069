package policy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// lookalikeRule is one rule that tells a secret from what only looks like
// one: a text it still redacts (leak must not survive) and a text it
// leaves alone.
type lookalikeRule struct {
	name   string
	caught string
	leak   string
	benign string
}

var lookalikeRules = []lookalikeRule{
	{
		name:   "a call after a member path is code",
		caught: "password = Qm9.2x(Lp)", leak: "Qm9.2x(Lp)",
		benign: "password = getpass.getpass()",
	},
	{
		name:   "a call's argument after a member path is code",
		caught: `password := "Kq8zm2Lw(x)"`, leak: "Kq8zm2Lw",
		benign: `password := os.Getenv("PASSWORD")`,
	},
}

func TestLookalikeRules(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, c := range lookalikeRules {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := r.Redact("ws", c.caught).Text
			require.NotContains(t, out, c.leak, "%q → %q", c.caught, out)
			kept := r.Redact("ws", c.benign)
			require.Equal(t, c.benign, kept.Text, "counts %v", kept.Counts)
		})
	}
}
