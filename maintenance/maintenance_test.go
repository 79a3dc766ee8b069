package maintenance_test

import (
	"context"
	"testing"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
	"github.com/memory-gateway/memory-gateway/maintenance"
)

// nothingToExpire routes no deletion.
type nothingToExpire struct{}

func (nothingToExpire) ExpireMemories(context.Context, gateway.RetentionStore, gateway.WorkspaceSet, gateway.MemoryTTL, int) (int, error) {
	return 0, nil
}

// The retention runs themselves are tested against both stores beside the
// service (gateway/retention_test.go); this holds the component to the
// lifecycle contract. With no policy, a run reads nothing.
func TestServiceIsAComponent(t *testing.T) {
	t.Parallel()
	lifecycletest.Check(t, func() lifecycle.Component {
		s, err := maintenance.New(maintenance.Config{}, struct{ gateway.RetentionStore }{}, nothingToExpire{}, lifecycle.Env{}, maintenance.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
