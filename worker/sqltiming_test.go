package worker_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// timingHook sums SQL time per statement shape; BenchmarkOutboxDrain prints
// it when BENCH_SQL_TIMING is set, to see where a drain spends its time.
type timingHook struct {
	mu sync.Mutex
	d  map[string]time.Duration
	n  map[string]int
}

func (h *timingHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (h *timingHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	q := e.Query
	if len(q) > 60 {
		q = q[:60]
	}
	h.mu.Lock()
	if h.d == nil {
		h.d, h.n = map[string]time.Duration{}, map[string]int{}
	}
	h.d[q] += time.Since(e.StartTime)
	h.n[q]++
	h.mu.Unlock()
}
func (h *timingHook) print() {
	type kv struct {
		k string
		d time.Duration
	}
	var all []kv
	for k, d := range h.d {
		all = append(all, kv{k, d})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].d > all[j].d })
	for _, x := range all[:min(12, len(all))] {
		fmt.Printf("%8v %6d %s\n", x.d.Round(time.Millisecond), h.n[x.k], x.k)
	}
}
