// Package statements counts the SQL statements run on behalf of one request:
// the request's context carries a counter, and the store's query hook adds
// to the counter of the context each statement runs under (dataloader
// batches run under the context of the request that started them). The
// process-wide count would also see other requests and the worker's polls.
package statements

import (
	"context"
	"sync/atomic"
)

type counterKey struct{}

// Counter counts statements.
type Counter struct{ n atomic.Int64 }

// Load returns the count so far.
func (c *Counter) Load() int64 { return c.n.Load() }

// WithCounter returns ctx carrying a fresh counter, and the counter.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	c := &Counter{}
	return context.WithValue(ctx, counterKey{}, c), c
}

// Add counts one statement against ctx's counter, if it has one.
func Add(ctx context.Context) {
	if c, ok := ctx.Value(counterKey{}).(*Counter); ok {
		c.n.Add(1)
	}
}
