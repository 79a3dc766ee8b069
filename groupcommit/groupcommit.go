// Package groupcommit lets concurrent writes share one transaction (group
// commit), as databases do for their own log: under load one commit, one
// round trip and one fsync carry many writes, while each caller still gets
// its own answer.
//
// There is no waiting window. A call that finds fewer than Flushers batches
// being written writes at once, taking whatever else is pending with it; calls
// that arrive while batches are being written form the next ones. So a lone
// write pays nothing, and batches grow exactly as fast as writes queue up.
package groupcommit

import (
	"context"
	"fmt"
	"sync"
)

// Defaults.
const (
	MaxBatchDefault = 64
	FlushersDefault = 1
)

// Batcher batches calls of Do.
type Batcher[T, R any] struct {
	// Write writes a batch in one transaction and returns each item's
	// own result and error. A non-nil err means the transaction failed and
	// nothing of it was written: every item is then written by Alone.
	Write func(ctx context.Context, batch []T) (results []R, errs []error, err error)
	// Alone writes one item by itself.
	Alone func(ctx context.Context, item T) (R, error)
	// Key, when set, names what an item writes: items with the same key
	// never share a batch (the later ones are written by Alone after it).
	Key func(T) string
	// MaxBatch bounds a batch (MaxBatchDefault when 0); Flushers bounds the
	// batches written at once (FlushersDefault when 0).
	MaxBatch, Flushers int

	mu       sync.Mutex
	pending  []*call[T, R]
	flushers int
}

type call[T, R any] struct {
	item   T
	result R
	err    error
	done   chan struct{}
}

// Pending is an item handed to Submit.
type Pending[T, R any] struct {
	b *Batcher[T, R]
	c *call[T, R]
}

// Submit hands item over for writing and returns at once; its place in the
// queue is fixed when Submit returns, so with one flusher items are written
// in the order they were submitted. Wait for the result.
func (b *Batcher[T, R]) Submit(item T) *Pending[T, R] {
	c := &call[T, R]{item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	start := b.flushers < max(b.Flushers, FlushersDefault)
	if start {
		b.flushers++
	}
	b.mu.Unlock()
	if start {
		go b.flushUntil(nil)
	}
	return &Pending[T, R]{b: b, c: c}
}

// Wait returns the item's own result, as Do does.
func (p *Pending[T, R]) Wait(ctx context.Context) (R, error) { return p.b.wait(ctx, p.c) }

// Do writes item, in a batch with whatever else is due, and returns its own
// result. A context that ends before a batch has taken the item writes
// nothing (ctx's error); once taken, the write is waited for and its own
// result returned, as an unbatched transaction's would be.
func (b *Batcher[T, R]) Do(ctx context.Context, item T) (R, error) {
	if err := ctx.Err(); err != nil {
		var zero R
		return zero, err
	}
	c := &call[T, R]{item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if b.flushers < max(b.Flushers, FlushersDefault) {
		b.flushers++
		b.mu.Unlock()
		b.flushUntil(c)
	} else {
		b.mu.Unlock()
	}
	return b.wait(ctx, c)
}

// wait waits for c: a call no batch has taken yet when ctx ends is never
// written; one being written is waited for.
func (b *Batcher[T, R]) wait(ctx context.Context, c *call[T, R]) (R, error) {
	select {
	case <-c.done:
		return c.result, c.err
	case <-ctx.Done():
	}
	// The caller gave up: a call no batch has taken yet is never written;
	// one being written is waited for, so the caller learns what landed.
	b.mu.Lock()
	for i, p := range b.pending {
		if p == c {
			b.pending = append(b.pending[:i:i], b.pending[i+1:]...)
			b.mu.Unlock()
			var zero R
			return zero, ctx.Err()
		}
	}
	b.mu.Unlock()
	<-c.done
	return c.result, c.err
}

// flushUntil writes batches until own is written, then hands what is still
// pending to a new flusher, so no caller waits on the others' writes long.
func (b *Batcher[T, R]) flushUntil(own *call[T, R]) {
	for {
		b.mu.Lock()
		n := min(len(b.pending), b.maxBatch())
		if n == 0 {
			b.flushers--
			b.mu.Unlock()
			return
		}
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()

		b.write(batch)
		if own == nil || !finished(own) {
			continue
		}
		b.mu.Lock()
		more := len(b.pending) > 0
		if !more {
			b.flushers--
		}
		b.mu.Unlock()
		if more {
			go b.flushUntil(nil)
		}
		return
	}
}

func (b *Batcher[T, R]) maxBatch() int {
	if b.MaxBatch > 0 {
		return b.MaxBatch
	}
	return MaxBatchDefault
}

func finished[T, R any](c *call[T, R]) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// write writes a batch: the items that may share a transaction together,
// the rest (and all of them, if the shared transaction fails) alone.
func (b *Batcher[T, R]) write(batch []*call[T, R]) {
	// A panic fails the calls it left unanswered, and keeps the batcher
	// going.
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("groupcommit: panic writing a batch: %v", p)
			for _, c := range batch {
				if !finished(c) {
					c.err = err
					close(c.done)
				}
			}
		}
	}()
	ctx := context.Background()
	shared, alone := b.split(batch)
	if len(shared) == 1 {
		alone = append(shared, alone...)
		shared = nil
	}
	if len(shared) > 0 {
		items := make([]T, len(shared))
		for i, c := range shared {
			items[i] = c.item
		}
		results, errs, err := b.Write(ctx, items)
		if err == nil && (len(results) != len(shared) || len(errs) != len(shared)) {
			err = fmt.Errorf("groupcommit: Write answered %d results and %d errors for %d items", len(results), len(errs), len(shared))
		}
		if err != nil {
			// In order: an item's later duplicates (alone already) after it.
			alone = append(shared, alone...)
		} else {
			for i, c := range shared {
				c.result, c.err = results[i], errs[i]
				close(c.done)
			}
		}
	}
	for _, c := range alone {
		c.result, c.err = b.Alone(ctx, c.item)
		close(c.done)
	}
}

func (b *Batcher[T, R]) split(batch []*call[T, R]) (shared, alone []*call[T, R]) {
	if b.Key == nil {
		return batch, nil
	}
	seen := make(map[string]bool, len(batch))
	for _, c := range batch {
		k := b.Key(c.item)
		if k != "" && seen[k] {
			alone = append(alone, c)
			continue
		}
		seen[k] = true
		shared = append(shared, c)
	}
	return shared, alone
}
