package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckTimeout bounds the probe: a container runtime runs it often.
const healthcheckTimeout = 3 * time.Second

// runHealthcheck probes http://LISTEN_ADDR/readyz and exits 0 when it
// answers ready, 1 otherwise (2 for bad usage): the probe of images that
// have no curl. It is silent unless --verbose.
func runHealthcheck(ctx context.Context, p process, args []string) int {
	stderr := p.stderr
	listen := p.getenv("LISTEN_ADDR")
	if listen == "" {
		listen = ListenAddrDefault
	}
	fs := newFlagSet("healthcheck", stderr)
	fs.StringVar(&listen, "listen", listen, "the address serve (or the worker's METRICS_ADDR) listens on (env LISTEN_ADDR)")
	verbose := fs.Bool("verbose", false, "say why the probe failed")
	if err := fs.Parse(args); err != nil {
		return exitCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "memory-gateway healthcheck: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	say := func(format string, a ...any) {
		if *verbose {
			fmt.Fprintf(stderr, "memory-gateway healthcheck: "+format+"\n", a...)
		}
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		say("LISTEN_ADDR %q is not host:port: %v", listen, err)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1" // a wildcard listener answers on loopback
	}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		say("%v", err)
		return 1
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		say("%s: %v", url, err)
		return 1
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body)
	if resp.StatusCode != http.StatusOK || body.Status != "ready" {
		say("%s answered %d (%s %s)", url, resp.StatusCode, body.Status, body.Reason)
		return 1
	}
	say("%s is ready", url)
	return 0
}
