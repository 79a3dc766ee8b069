package lifecycle_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

func TestEnv(t *testing.T) {
	t.Parallel()
	var zero lifecycle.Env
	zero.Logger().Info("nowhere") // the zero Env logs nowhere, and does not panic
	require.WithinDuration(t, time.Now(), zero.Now(), time.Minute, "the zero Env reads the system clock")

	var logs bytes.Buffer
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	env := lifecycle.NewEnv(slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return at })
	env.Logger().Info("here")
	require.Contains(t, logs.String(), "msg=here")
	require.Equal(t, at, env.Now())
	require.Equal(t, at, env.Clock()())
}
