package policy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/policy"
)

func TestLoadFeedbackPolicy(t *testing.T) {
	t.Parallel()
	none, err := policy.LoadFeedbackPolicy("", "")
	require.NoError(t, err)
	require.Nil(t, none, "nothing configured: the domain default")

	p, err := policy.LoadFeedbackPolicy(`{"workspaces": {"acme": ["HELPFUL", "correction", "DELETE_REQUEST"], "globex": []}}`, "")
	require.NoError(t, err)
	for _, c := range []struct {
		ws   string
		t    backendtype.FeedbackType
		want bool
	}{
		{"acme", backendtype.FeedbackCorrection, true},
		{"acme", backendtype.FeedbackDeleteRequest, true},
		{"acme", backendtype.FeedbackNotHelpful, false},
		{"globex", backendtype.FeedbackHelpful, false},
		{"initech", backendtype.FeedbackHelpful, true},
		{"initech", backendtype.FeedbackCorrection, false},
	} {
		require.Equal(t, c.want, p.AutoAccepts(c.ws, c.t), "%s %s", c.ws, c.t)
	}

	path := filepath.Join(t.TempDir(), "feedback.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"default": ["CORRECTION"]}`), 0o600))
	p, err = policy.LoadFeedbackPolicy("", path)
	require.NoError(t, err)
	require.True(t, p.AutoAccepts("any", backendtype.FeedbackCorrection))
	require.False(t, p.AutoAccepts("any", backendtype.FeedbackHelpful))
	require.False(t, p.BlindReview("any"), "reviewers see the texts unless a workspace says otherwise")

	p, err = policy.LoadFeedbackPolicy(`{"blindReview": {"workspaces": {"acme": true}}}`, "")
	require.NoError(t, err)
	require.True(t, p.BlindReview("acme"))
	require.False(t, p.BlindReview("globex"))
	require.True(t, p.AutoAccepts("acme", backendtype.FeedbackHelpful), "the auto-accept default stays")
	p, err = policy.LoadFeedbackPolicy(`{"blindReview": {"default": true, "workspaces": {"globex": false}}}`, "")
	require.NoError(t, err)
	require.True(t, p.BlindReview("acme"))
	require.False(t, p.BlindReview("globex"))

	for _, bad := range []string{`{"default": ["LOVED"]}`, `{"defaults": []}`, `[`, `{"blindReview": {"acme": true}}`, `{"blindReview": true}`} {
		_, err := policy.LoadFeedbackPolicy(bad, "")
		require.ErrorContains(t, err, "invalid feedback policy", bad)
	}
}
