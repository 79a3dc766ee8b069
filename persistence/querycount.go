package persistence

import (
	"context"
	"sync/atomic"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/statements"
)

// QueryCounter is a bun query hook that counts statements: all of them (the
// metric), and those of a request whose context carries a counter
// (statements.WithCounter).
type QueryCounter struct {
	n atomic.Int64
}

var _ bun.QueryHook = (*QueryCounter)(nil)

// BeforeQuery implements bun.QueryHook.
func (c *QueryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	c.n.Add(1)
	statements.Add(ctx)
	return ctx
}

// AfterQuery implements bun.QueryHook.
func (c *QueryCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

// Count returns the number of statements seen so far.
func (c *QueryCounter) Count() int64 { return c.n.Load() }

// Reset sets the count back to zero.
func (c *QueryCounter) Reset() { c.n.Store(0) }
