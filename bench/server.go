package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Server process limits.
const (
	readyTimeout      = 60 * time.Second
	readyPollInterval = 50 * time.Millisecond
	stopTimeout       = 30 * time.Second
	logTailBytes      = 2048
)

// Metric names read from GET /metrics.
const (
	metricQueries  = "memory_gateway_db_queries_total"
	metricHeap     = "go_memstats_heap_inuse_bytes"
	metricResident = "process_resident_memory_bytes"
	// metricSubscriptions counts the job watches of the process's hub.
	metricSubscriptions = "memory_gateway_subscriptions_active"
)

// waitSubscriptions reads /metrics this often, this long at most.
const (
	subscriptionPoll = 50 * time.Millisecond
	subscriptionWait = 30 * time.Second
)

// gatewayServer is one server process started by the bench.
type gatewayServer struct {
	name    string
	base    string // http://127.0.0.1:port
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Commands of the server binary the bench runs.
const (
	commandServe  = "serve"
	commandWorker = "worker"
)

// startServer starts the server binary (serve) with the bench's fixed
// settings plus settings (which win) and waits until GET /readyz answers
// 200.
func (e *env) startServer(ctx context.Context, name, databaseURL string, settings map[string]string) (*gatewayServer, error) {
	return e.startProcess(ctx, name, commandServe, databaseURL, settings)
}

// startWorker starts the worker command (outbox worker and webhook sender,
// no API); its base URL is its METRICS_ADDR listener (/readyz, /metrics).
func (e *env) startWorker(ctx context.Context, name, databaseURL string, settings map[string]string) (*gatewayServer, error) {
	return e.startProcess(ctx, name, commandWorker, databaseURL, settings)
}

func (e *env) startProcess(ctx context.Context, name, command, databaseURL string, settings map[string]string) (*gatewayServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	vars := map[string]string{
		"DATABASE_URL":        databaseURL,
		"RATE_LIMIT_INGEST":   "0",
		"RATE_LIMIT_RETRIEVE": "0",
		"LOG_LEVEL":           "warn",
		// Every subscriber of the bench is the dev principal.
		"MAX_SUBSCRIPTIONS_PER_PRINCIPAL": strconv.Itoa(max(2*e.cfg.subscribers, 2*e.cfg.scaleoutSubscribers, gateway.MaxSubscriptionsPerPrincipalDefault)),
	}
	var args []string
	if command == commandWorker {
		vars["METRICS_ADDR"] = addr
		args = []string{commandWorker}
	} else {
		vars["LISTEN_ADDR"] = addr
	}
	// Profiles are served (to loopback: dev mode) so that the bench can
	// collect garbage before it reads a heap, and save profiles when asked.
	vars["PPROF"] = "true"
	for k, v := range settings {
		vars[k] = v
	}
	// A clean environment: nothing of the caller's (API keys, backend URLs)
	// may change what is measured.
	envList := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		envList = append(envList, k+"="+v)
	}
	logPath := filepath.Join(e.tmpDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("error creating %s: %w", logPath, err)
	}
	cmd := exec.Command(e.binary, args...)
	cmd.Env = envList
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("error starting server %s: %w", name, err)
	}
	s := &gatewayServer{name: name, base: "http://" + addr, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(s.exited)
	}()
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("error finding a free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *gatewayServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("error building the readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server %s exited before it was ready (%v); log tail:\n%s", s.name, s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("server %s not ready: %w; log tail:\n%s", s.name, ctx.Err(), s.logTail())
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits; past stopTimeout it kills.
func (s *gatewayServer) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("error stopping server %s: %w", s.name, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("server %s did not stop within %s and was killed", s.name, stopTimeout)
	}
}

// stopServers stops every server started so far.
func (e *env) stopServers() {
	e.mu.Lock()
	servers := e.servers
	e.servers = nil
	e.mu.Unlock()
	for _, s := range servers {
		if err := s.stop(); err != nil {
			e.logf("%v", err)
		}
	}
}

func (s *gatewayServer) pid() int { return s.cmd.Process.Pid }

func (s *gatewayServer) logTail() string {
	raw, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log)"
	}
	if len(raw) > logTailBytes {
		raw = raw[len(raw)-logTailBytes:]
	}
	return string(raw)
}

// metrics reads GET /metrics and sums every series by metric name; ok is
// false when the server has no /metrics.
func (s *gatewayServer) metrics(ctx context.Context) (values map[string]float64, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return nil, false, fmt.Errorf("error building the metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("error reading %s/metrics: %w", s.base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, fmt.Errorf("error reading %s/metrics: %w", s.base, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("# TYPE")) {
		return nil, false, nil
	}
	return parsePrometheus(body), true, nil
}

// parsePrometheus sums the samples of the text exposition format by name.
func parsePrometheus(body []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out
}

// residentBytes reads VmRSS of a process from /proc.
func residentBytes(pid int) (float64, error) {
	v := procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
	kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
	if err != nil {
		return 0, fmt.Errorf("error reading VmRSS of process %d: %w", pid, err)
	}
	return kb * 1024, nil
}

// hasPprof reports whether the server serves /debug/pprof/.
func (s *gatewayServer) hasPprof(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/debug/pprof/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// cpuProfile saves a CPU profile of the next d to path.
func (s *gatewayServer) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	return s.saveProfile(ctx, fmt.Sprintf("profile?seconds=%d", max(1, int(d.Seconds()))), path)
}

// saveProfile saves the server's /debug/pprof/<query> to path.
func (s *gatewayServer) saveProfile(ctx context.Context, query, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/debug/pprof/"+query, nil)
	if err != nil {
		return fmt.Errorf("error building the profile request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("error fetching profile %s: %w", query, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("error fetching profile %s: status %s", query, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("error creating %s: %w", path, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	return f.Close()
}

// profileAsync saves a CPU profile of the next d of srv under -pprof-dir;
// the returned function waits for it and says where it is (or why not).
// Without -pprof-dir it does nothing and says "".
func (e *env) profileAsync(ctx context.Context, srv *gatewayServer, name string, d time.Duration) func() string {
	if e.cfg.pprofDir == "" {
		return func() string { return "" }
	}
	if !srv.hasPprof(ctx) {
		return func() string { return "n/a: the server has no /debug/pprof" }
	}
	path := filepath.Join(e.cfg.pprofDir, name+".cpu.pprof")
	result := make(chan string, 1)
	go func() {
		if err := os.MkdirAll(e.cfg.pprofDir, 0o755); err != nil {
			result <- err.Error()
			return
		}
		if err := srv.cpuProfile(ctx, d, path); err != nil {
			result <- err.Error()
			return
		}
		result <- path
	}()
	return func() string { return <-result }
}

// collectGarbage makes the server run a garbage collection (the heap
// profile's gc=1), so that the heap read next is what is live.
func (s *gatewayServer) collectGarbage(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("error asking for a garbage collection: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("error asking for a garbage collection: status %s", resp.Status)
	}
	return nil
}

// heapProfile saves the server's heap (after a collection) under
// -pprof-dir as name.heap.pprof, when the bench was asked for profiles.
func (e *env) heapProfile(ctx context.Context, srv *gatewayServer, name string) error {
	if e.cfg.pprofDir == "" || !srv.hasPprof(ctx) {
		return nil
	}
	if err := os.MkdirAll(e.cfg.pprofDir, 0o755); err != nil {
		return err
	}
	return srv.saveProfile(ctx, "heap?gc=1", filepath.Join(e.cfg.pprofDir, name+".heap.pprof"))
}

// waitSubscriptions waits until the number of subscriptions of the
// server's hub satisfies done; observed is false when /metrics cannot say.
func (s *gatewayServer) waitSubscriptions(ctx context.Context, done func(live float64) bool) (observed bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, subscriptionWait)
	defer cancel()
	for {
		values, ok, err := s.metrics(ctx)
		if err != nil {
			return false, err
		}
		live, found := values[metricSubscriptions]
		if !ok || !found {
			return false, nil
		}
		if done(live) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("still %.0f subscriptions live on %s: %w", live, s.name, ctx.Err())
		case <-time.After(subscriptionPoll):
		}
	}
}

// profileBench starts a CPU profile of the bench process itself (its
// clients, fakes and readers share the machine with the servers) into
// -pprof-dir as bench-<scenario>.cpu.pprof; the returned function stops it.
// Without -pprof-dir, or if profiling cannot start, it does nothing.
func (e *env) profileBench(scenario string) (stop func()) {
	if e.cfg.pprofDir == "" {
		return func() {}
	}
	if err := os.MkdirAll(e.cfg.pprofDir, 0o755); err != nil {
		e.logf("bench profile: %v", err)
		return func() {}
	}
	f, err := os.Create(filepath.Join(e.cfg.pprofDir, "bench-"+scenario+".cpu.pprof"))
	if err != nil {
		e.logf("bench profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		e.logf("bench profile: %v", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			e.logf("bench profile: %v", err)
		}
	}
}
