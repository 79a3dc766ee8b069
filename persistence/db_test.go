package persistence_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// JIT is off on the gateway's sessions unless the URL asks for it: a batch
// statement's cost estimate can cross jit_above_cost, and compiling it then
// takes longer than running it.
func TestPostgresSessionDefaults(t *testing.T) {
	t.Parallel()
	base := pt.PostgresURL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name, url, want string
	}{
		{"default", base, "off"},
		{"the URL wins", base + sep + "jit=on", "on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := persistence.Open(ctx, tc.url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			// The session set it, so a server whose own default is the same
			// cannot make this pass.
			var setting, source string
			require.NoError(t, db.NewRaw("SELECT setting, source FROM pg_settings WHERE name = 'jit'").Scan(ctx, &setting, &source))
			require.Equal(t, tc.want, setting)
			require.Equal(t, "session", source)
		})
	}
}
