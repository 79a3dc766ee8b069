package lifecycle_test

import (
	"context"
	"sync/atomic"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

type valueKey struct{}

// looper is a component made of one Runner loop: it reports the value its
// context carries, waits for cancellation (and for hold, when set), then
// notes that it ended.
type looper struct {
	runner lifecycle.Runner
	hold   chan struct{}
	value  chan any
	ended  atomic.Bool
}

func newLooper() *looper { return &looper{value: make(chan any, 4)} }

func (l *looper) Start(ctx context.Context) error {
	return l.runner.Start(ctx, func(ctx context.Context) {
		select {
		case l.value <- ctx.Value(valueKey{}):
		default:
		}
		l.ended.Store(false)
		<-ctx.Done()
		if l.hold != nil {
			<-l.hold
		}
		l.ended.Store(true)
	})
}

func (l *looper) Stop(ctx context.Context) error { return l.runner.Stop(ctx) }
