// Package lifecycle is how the gateway's background components start and
// stop: one interface every component implements, a Runner for the common
// case of one loop in its own goroutine, and the Group the composition root
// starts in order and stops in reverse, undoing a start that fails halfway.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Component is a part of the process that works in the background.
type Component interface {
	// Start launches the component's work and returns once it runs. The
	// work keeps ctx's values but not its cancellation: only Stop ends it.
	// Starting a component that runs already is an error.
	Start(ctx context.Context) error
	// Stop ends the work, waiting for it until ctx is done (then it returns
	// ctx's error). Stopping a component that never started, or stopping
	// it twice, does nothing.
	Stop(ctx context.Context) error
}

// ErrStarted is the error of starting a component that runs already.
var ErrStarted = errors.New("lifecycle: already started")

// Runner runs a component's loop in its own goroutine. Embed it, or keep
// one, and call its Start from the component's Start.
type Runner struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs loop in a goroutine of its own, with a context that keeps
// ctx's values and is cancelled by Stop. It fails with ErrStarted while a
// loop runs.
func (r *Runner) Start(ctx context.Context, loop func(ctx context.Context)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return ErrStarted
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	go func() {
		defer close(done)
		loop(ctx)
	}()
	return nil
}

// StartEvery runs run in a goroutine of its own, at once and then every
// interval, as Start does; an error of a run (not one of stopping) goes to
// failed, and the next run comes at its time.
func (r *Runner) StartEvery(ctx context.Context, interval time.Duration, run func(ctx context.Context) error, failed func(error)) error {
	return r.Start(ctx, func(ctx context.Context) {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			if err := run(ctx); err != nil && ctx.Err() == nil {
				failed(err)
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	})
}

// Stop cancels the loop's context and waits for the loop to return, or for
// ctx to be done. Before Start, or once stopped, it does nothing.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Group starts components in the order they were added and stops them in
// reverse. Resources opened while the group is built (a database, a trace
// exporter) are adopted as they open, so whatever fails later — building,
// or starting — releases exactly what was opened, in reverse.
type Group struct {
	mu      sync.Mutex
	pending []named // added, not started yet
	running []named // started or adopted, in order: what Stop undoes
}

type named struct {
	name string
	c    Component
}

// Add appends c to the components Start starts.
func (g *Group) Add(name string, c Component) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = append(g.pending, named{name, c})
}

// Adopt takes over a resource that is open already: Stop calls release
// after stopping everything started after it.
func (g *Group) Adopt(name string, release func(ctx context.Context) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running = append(g.running, named{name, released(release)})
}

// Start starts the added components in order. When one fails, everything
// the group holds (the components started before it and the adopted
// resources) is stopped in reverse and the error says which failed.
func (g *Group) Start(ctx context.Context) error {
	g.mu.Lock()
	pending := g.pending
	g.pending = nil
	g.mu.Unlock()
	for _, n := range pending {
		if err := n.c.Start(ctx); err != nil {
			err = fmt.Errorf("error starting %s: %w", n.name, err)
			return errors.Join(err, g.Stop(ctx))
		}
		g.mu.Lock()
		g.running = append(g.running, n)
		g.mu.Unlock()
	}
	return nil
}

// Stop stops every started component and releases every adopted resource,
// in the reverse of their order, each given until ctx is done; it returns
// every error, each naming its component. Stopping twice does nothing.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	running := g.running
	g.running, g.pending = nil, nil
	g.mu.Unlock()
	var errs []error
	for i := len(running) - 1; i >= 0; i-- {
		if err := running[i].c.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("error stopping %s: %w", running[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// released is a resource that is open already: starting it does nothing,
// stopping it releases it once.
type released func(ctx context.Context) error

func (released) Start(context.Context) error { return nil }

func (r released) Stop(ctx context.Context) error { return r(ctx) }
