package policy_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// TestBuiltinTokenShapes: a built-in vendor token is masked in its
// vendor's shape only; a value with the prefix but not the shape (made up
// to look like one, or a documented example) is left alone, on its own and
// as a key's value.
func TestBuiltinTokenShapes(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	body93 := strings.Repeat("Qz8k-R2mVt5Lw9_pXc3nB7yH", 4)[:93]
	for _, c := range []struct {
		name, text string
		masked     bool
	}{
		{"an Anthropic key", "sk-ant-api03-" + body93 + "AA", true},
		{"an Anthropic admin key", "sk-ant-admin01-" + body93 + "AA", true},
		{"an Anthropic key too short", "sk-ant-api03-" + body93[:60] + "AA", false},
		{"an Anthropic key with another suffix", "sk-ant-api03-" + body93 + "ZZ", false},
		{"a Slack bot token", "xoxb-602113847725-731906424118-Wq7nRt2LpX9vKc4mZs8bYd3H", true},
		{"a legacy Slack bot token", "xoxb-84170326591-Tm4qWz8RpL2vXn6cYb3KdJ7s", true},
		{"a Slack prefix without ids", "xoxb-mybot-token-here", false},
		{"a Slack bot token with a short id", "xoxb-48213-wxyz731", false},
		{"a Slack user token with ids too short, as a key's value", `"slack_user": "xoxp-7731-7731-7731-0c9e2b4a6d8f1e3c5b7a9d0f2e4c6b8a"`, false},
		{"a Slack user token without its parts, as a key's value", `"token": "xoxp-8406417723"`, false},
		{"an AWS key", "aws_access_key: AKIAQ4W7N2L8XZ5RT3MB", true},
		{"an AWS documented example key", "aws_access_key: AKIAQ4W7N2L8XEXAMPLE", false},
		{"a Telegram token of the vendor's shape", `telegram_bot_token = "55102938:AQz8kR2mVt5Lw9pXc3nB7yHd4Fg6Js1Ke0u"`, true},
		{"a Telegram-looking value with an id too short", `telegram_bot_token = "7731:AQz8kR2mVt5Lw9pXc3nB7yHd4Fg6Js1Ke0u"`, false},
		{"a counting fill as a password", `<add key="ClearTextPassword" value="xyz" />`, false},
		{"a counting fill as an access key", "WIDGET_ACCESS_KEY: DeFgH456", false},
		{"the alphabet after a vendor prefix", `"secret_key" => "pk_abcdefghijklmnopqrstuvwxyz789"`, false},
	} {
		out := r.Redact("ws", c.text)
		require.Equal(t, c.masked, out.Text != c.text, "%s: %q → %q", c.name, c.text, out.Text)
		require.Equal(t, out.Text, r.Redact("ws", out.Text).Text, "%s: redacting again changes nothing", c.name)
	}
}
