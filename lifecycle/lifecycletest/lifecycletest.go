// Package lifecycletest holds every component to lifecycle.Component's
// contract.
package lifecycletest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Check holds the components newComponent builds to the contract: stopping
// before starting or twice does nothing, starting twice is an error, and a
// component stops within its context.
func Check(t *testing.T, newComponent func() lifecycle.Component) {
	t.Helper()
	ctx := t.Context()

	c := newComponent()
	require.NoError(t, c.Stop(ctx), "stopping before starting does nothing")
	require.NoError(t, c.Stop(ctx), "nor does stopping again")

	c = newComponent()
	require.NoError(t, c.Start(ctx))
	require.Error(t, c.Start(ctx), "starting a running component is an error")
	require.NoError(t, c.Stop(ctx))
	require.NoError(t, c.Stop(ctx), "stopping twice does nothing")
}
