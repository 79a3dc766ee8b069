package policy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCountingFill: values made up by counting are stand-ins; a value that
// only holds such a run, or repeats a block, or is written with spaces, is
// judged as any other.
func TestCountingFill(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		fill  bool
	}{
		{"xyz", true},
		{"DeFgH456", true},
		{"mno-789", true},
		{"rst_uvw.234", true},
		{"abc123abc", false},        // a block repeated
		{"klmn5678klmn5678", false}, // test data's stand-in for a key of that length
		{"bcd efg hij", false},      // written as an app password is
		{"xyz9Qk2LmP", false},       // a run, then random
		{"Tq8mZ2pLw4", false},       // random
		{"ab12", false},             // runs too short
		{"hunter2", false},
	} {
		require.Equal(t, c.fill, isCountingFill(c.value), c.value)
	}
}
