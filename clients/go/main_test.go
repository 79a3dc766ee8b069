package memorygateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gatewayURL is the base URL of the gateway TestMain starts from this
// checkout (dev mode: no keys, SQLite).
var gatewayURL string

// serverStartTimeout bounds building and starting the gateway.
const serverStartTimeout = 3 * time.Minute

func TestMain(m *testing.M) {
	os.Exit(runWithGateway(m))
}

func runWithGateway(m *testing.M) int {
	dir, err := os.MkdirTemp("", "memory-gateway-client-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), serverStartTimeout)
	defer cancel()
	stop, err := startGateway(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the gateway:", err)
		return 1
	}
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the gateway:", err)
	}
	return code
}

// startGateway builds the gateway from the repository's root and serves it
// on a free loopback port, reading the address from its log.
func startGateway(ctx context.Context, dir string) (stop func() error, err error) {
	bin := filepath.Join(dir, "memory-gateway")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, out)
	}
	serve := exec.Command(bin, "serve")
	serve.Env = append(os.Environ(),
		"DATABASE_URL=file:"+filepath.Join(dir, "gateway.db"),
		"LISTEN_ADDR=127.0.0.1:0",
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
		"API_KEYS_FILE=",
	)
	logs, err := serve.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := serve.Start(); err != nil {
		return nil, err
	}
	stop = func() error {
		_ = serve.Process.Signal(syscall.SIGTERM)
		return serve.Wait()
	}
	addr := make(chan string, 1)
	var seen strings.Builder
	go func() {
		lines := bufio.NewScanner(logs)
		for lines.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(lines.Bytes(), &line) == nil && line.Msg == "memory-gateway: serving" {
				addr <- line.Addr
				break
			}
			seen.Write(lines.Bytes())
			seen.WriteByte('\n')
		}
		close(addr)
		// Keep reading: a server whose log is not drained blocks.
		_, _ = io.Copy(io.Discard, logs)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			_ = stop()
			return nil, fmt.Errorf("the gateway exited before serving:\n%s", seen.String())
		}
		gatewayURL = "http://" + a
		return stop, nil
	case <-ctx.Done():
		_ = stop()
		return nil, fmt.Errorf("the gateway did not serve in time: %w", ctx.Err())
	}
}
