package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/policy"
)

func TestParseRetentionPolicy(t *testing.T) {
	t.Parallel()
	p, err := policy.ParseRetentionPolicy([]byte(`{"default": {"controlPlane": "2160h", "memories": [
		{"namespace": "/support/tier1/", "memoryTypes": ["LONG_TERM_MEMORY", "profile"], "ttl": "720h"}]},
		"workspaces": {"acme": {"controlPlane": "24h"}}}`))
	require.NoError(t, err)
	require.Equal(t, 2160*time.Hour, p.Default.ControlPlane)
	require.Equal(t, []gateway.MemoryTTL{{Namespace: "support/tier1", MemoryTypes: []backendtype.RefType{backendtype.RefTypeLongTermMemory, backendtype.RefTypeProfile}, TTL: 720 * time.Hour}}, p.Default.Memories)
	require.Equal(t, 24*time.Hour, p.Workspaces["acme"].ControlPlane)

	empty, err := policy.ParseRetentionPolicy(nil)
	require.NoError(t, err)
	require.Zero(t, empty.Default.ControlPlane, "no policy keeps everything")

	for name, raw := range map[string]string{
		"unknown field":     `{"default": {"keep": "1h"}}`,
		"bad duration":      `{"default": {"controlPlane": "a month"}}`,
		"negative":          `{"default": {"controlPlane": "-1h"}}`,
		"unknown type":      `{"default": {"memories": [{"memoryTypes": ["DIARY"], "ttl": "1h"}]}}`,
		"ttl missing":       `{"default": {"memories": [{"namespace": "x"}]}}`,
		"empty workspace":   `{"workspaces": {"": {}}}`,
		"not json":          `{`,
		"workspace bad ttl": `{"workspaces": {"acme": {"memories": [{"ttl": "0s"}]}}}`,
	} {
		_, err := policy.ParseRetentionPolicy([]byte(raw))
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "retention policy", name)
	}
}
