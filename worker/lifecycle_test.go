package worker_test

import (
	"testing"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

func TestWorkerIsAComponent(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		b := setup(t, db, 0, local.New(db.DB, nil))
		lifecycletest.Check(t, func() lifecycle.Component { return b.newWorker(t, worker.Config{}, worker.Hooks{}) })
	})
}
