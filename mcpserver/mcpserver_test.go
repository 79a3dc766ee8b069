package mcpserver

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
)

func TestSessionURIRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ws, sess string }{
		{"acme", "s1"},
		{"acme corp", "session/with/slashes"},
		{"ws%", "ünïcode ?#"},
	} {
		ws, sess, ok := parseSessionURI(SessionURI(tc.ws, tc.sess))
		require.True(t, ok, "%q %q", tc.ws, tc.sess)
		require.Equal(t, tc.ws, ws)
		require.Equal(t, tc.sess, sess)
	}
	for _, bad := range []string{"", "memory://", "memory://acme/sessions/", "memory://acme/jobs/x", "http://acme/sessions/s1", "memory://acme/sessions/a/b"} {
		_, _, ok := parseSessionURI(bad)
		require.False(t, ok, bad)
	}
}

func TestDeriveTurnID(t *testing.T) {
	t.Parallel()
	id := DeriveTurnID("acme", "s1", "helper", "user", "hello")
	require.Equal(t, id, DeriveTurnID("acme", "s1", "helper", "user", "hello"), "a retry names the same turn")
	for _, other := range []string{
		DeriveTurnID("acme", "s2", "helper", "user", "hello"),
		DeriveTurnID("acme", "s1", "other", "user", "hello"),
		DeriveTurnID("acme", "s1", "helper", "assistant", "hello"),
		DeriveTurnID("acme", "s1", "helper", "user", "hello!"),
		DeriveTurnID("acme", "s1h", "elper", "user", "hello"),
	} {
		require.NotEqual(t, id, other)
	}
}

func TestDecodeArguments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, field string
	}{
		{"empty", ``, ""},
		{"null", `null`, ""},
		{"an object", `{"query": "x", "limit": 3}`, ""},
		{"an unknown argument", `{"query": "x", "everything": true}`, "everything"},
		{"a wrong type", `{"query": 7}`, "query"},
		{"a wrong type in a list", `{"turns": [{"role": 1}]}`, "turns.role"},
		{"not an object", `[1, 2]`, "arguments"},
		{"broken JSON", `{"query": `, "arguments"},
	} {
		var dst struct {
			Query string `json:"query"`
			Limit int    `json:"limit"`
			Turns []struct {
				Role string `json:"role"`
			} `json:"turns"`
		}
		err := decodeArguments([]byte(tc.raw), &dst)
		if tc.field == "" {
			require.NoError(t, err, tc.name)
			continue
		}
		var input *gateway.InputError
		require.ErrorAs(t, err, &input, tc.name)
		require.Equal(t, tc.field, input.Field, tc.name)
	}
}
