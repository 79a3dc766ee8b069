package app

import (
	"context"
	"os"
	"testing"

	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
)

func TestReloaderIsAComponent(t *testing.T) {
	t.Parallel()
	lifecycletest.Check(t, func() lifecycle.Component {
		return &reloader{watch: func(ctx context.Context, _ <-chan os.Signal) { <-ctx.Done() }}
	})
}
