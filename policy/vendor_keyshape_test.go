package policy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeyShapeRejects: a value given to a key naming a vendor, with the
// structure of the vendor's token but not its shape, is a made-up one; a
// value of another structure, or under another key, is judged as before.
func TestKeyShapeRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, key, value string
		rejects          bool
	}{
		{"a bot id too short", "telegram_bot_token", "7731:AQz8kR2mVt5Lw9pXc3nB7yHd4Fg6Js1Ke0a", true},
		{"a bot id too long", "telegram_bot_token", "93015527718840263:AQz8kR2mVt5Lw9pXc3nB7yHd4Fg6Js1Ke0", true},
		{"a secret too long", "telegram_bot_token", "55102938:AQz8kR2mVt5Lw9pXc3nB7yHd4Fg6Js1Ke0aworld", true},
		{"the vendor's shape", "telegram_bot_token", "55102938:AQz8kR2mVt5Lw9pXc3nB7yHd4Fg6Js1Ke0u", false},
		{"another structure", "telegram_bot_token", "Qz8kR2mVt5Lw9pXc3nB7yHd4", false},
		{"a key naming no vendor", "bot_token", "7731:AQz8kR2mVt5Lw9pXc3nB7yHd4Fg6Js1Ke0a", false},
		{"a UUID's structure, not its lengths", "heroku_api_key", "4f2a-19c0-77de-a3b1-5e8d0c2f6b94", true},
		{"one character class says nothing of whose it is", "meraki_api_key", "9c2e7b4a1f0d3e8c6b5a2f1e0d9c8b7a6f5e4d3c2b", false},
		{"a short repetition is structure (a data centre's digits)", "mailchimp_key", "0f9e8d7c6b5a49382716f5e4d3c2b1a0-us6", false},
	} {
		require.Equal(t, c.rejects, keyShapeRejects(c.key, c.value), c.name)
	}
}
