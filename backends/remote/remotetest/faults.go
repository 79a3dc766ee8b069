// Package remotetest holds what the in-process fakes of remote backends
// share: injectable faults (latency, failures, garbage) and request counts.
// Fakes are test code: no binary imports them.
package remotetest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// Faults makes a fake misbehave. The zero value behaves.
type Faults struct {
	mu       sync.Mutex
	latency  time.Duration
	failNext int
	status   int
	body     string
	garbage  bool
	counts   map[string]int
	// onPath are failures for one method and path (FailNextOn).
	onPath map[string]*pathFault
	// held, when set, holds every request until it is closed (Hold).
	held chan struct{}
}

// Hold makes every request wait, once counted, until release is called (or
// its context ends): a test lets work queue up behind a call in flight and
// decides itself when the call goes on.
func (f *Faults) Hold() (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gate := make(chan struct{})
	f.held = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.held == gate {
				f.held = nil
			}
			f.mu.Unlock()
			close(gate)
		})
	}
}

type pathFault struct {
	n, status int
	body      string
}

// SetLatency delays every answer (the request's context still cancels it).
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// FailNext answers the next n requests with status and body.
func (f *Faults) FailNext(n, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext, f.status, f.body = n, status, body
}

// FailNextOn answers the next n requests to one method and path with status
// and body, letting the calls before it in a multi-step operation through.
// FailNext, when armed, goes first.
func (f *Faults) FailNextOn(method, path string, n, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onPath == nil {
		f.onPath = map[string]*pathFault{}
	}
	f.onPath[method+" "+path] = &pathFault{n: n, status: status, body: body}
}

// SetGarbage makes every answer a 200 that is not JSON.
func (f *Faults) SetGarbage(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.garbage = on
}

// Count returns how many requests reached a method and path.
func (f *Faults) Count(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method+" "+path]
}

// Wrap applies the faults in front of a fake's handler.
func (f *Faults) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		if f.counts == nil {
			f.counts = map[string]int{}
		}
		key := r.Method + " " + r.URL.Path
		f.counts[key]++
		latency, garbage, held := f.latency, f.garbage, f.held
		fail, status, body := f.failNext > 0, f.status, f.body
		if fail {
			f.failNext--
		} else if pf := f.onPath[key]; pf != nil && pf.n > 0 {
			fail, status, body = true, pf.status, pf.body
			pf.n--
		}
		f.mu.Unlock()
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		if latency > 0 {
			// Read the body first: only then does the server notice a client
			// that hangs up, and cancel the request's context.
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case fail:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		case garbage:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>502 Bad Gateway</html>"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// Locked serves h holding mu: a fake's handlers share its state.
func Locked(mu *sync.Mutex, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		h(w, r)
	}
}

// Page is the page-th page (from 1) of size items, clipped to the list.
func Page[T any](items []T, page, size int) []T {
	from := min(len(items), max(0, (page-1)*size))
	return items[from:min(len(items), from+size)]
}
