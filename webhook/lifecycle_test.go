package webhook

import (
	"testing"

	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
)

func TestDispatcherIsAComponent(t *testing.T) {
	t.Parallel()
	lifecycletest.Check(t, func() lifecycle.Component { return loopbackDispatcher(t, newMemStore(nil), Config{}) })
}
