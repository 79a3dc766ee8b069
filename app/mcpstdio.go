package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/mcpserver"
)

// mcpStdioConfig is the configuration of `memory-gateway mcp-stdio`.
type mcpStdioConfig struct {
	URL      string
	Key      string
	LogLevel string
	// InsecureHTTP allows a plain http:// URL to a host that is not this
	// machine (the key would cross the network in the clear).
	InsecureHTTP bool
}

// parseMCPStdioConfig reads --url, --key (or --key-file) and --log-level,
// each with an environment variable; flags win.
func parseMCPStdioConfig(args []string, getenv func(string) string, output io.Writer) (mcpStdioConfig, error) {
	// The key's default is not the environment's value: usage text prints
	// defaults, and a key must never reach a log.
	cfg := mcpStdioConfig{URL: getenv("MEMORY_GATEWAY_URL"), LogLevel: "warn"}
	if v := getenv("LOG_LEVEL"); v != "" {
		cfg.LogLevel = v
	}
	keyFile := getenv("MEMORY_GATEWAY_KEY_FILE")
	fs := newFlagSet("mcp-stdio", output)
	fs.StringVar(&cfg.URL, "url", cfg.URL, "the gateway's MCP endpoint, e.g. http://127.0.0.1:8080/mcp (env MEMORY_GATEWAY_URL)")
	fs.StringVar(&cfg.Key, "key", cfg.Key, "API key (env MEMORY_GATEWAY_KEY; prefer --key-file: a flag is visible to anyone listing processes)")
	fs.StringVar(&keyFile, "key-file", keyFile, "file holding the API key (env MEMORY_GATEWAY_KEY_FILE)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error; logs go to standard error")
	fs.BoolVar(&cfg.InsecureHTTP, "allow-insecure-http", false, "allow a plain http:// URL to another machine: the key then crosses the network unencrypted")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.Key == "" {
		cfg.Key = getenv("MEMORY_GATEWAY_KEY")
	}
	if keyFile != "" {
		if cfg.Key != "" {
			return cfg, errors.New("--key and --key-file are both set: give the key one way")
		}
		raw, err := os.ReadFile(keyFile)
		if err != nil {
			return cfg, fmt.Errorf("error reading the key file: %w", err)
		}
		cfg.Key = strings.TrimSpace(string(raw))
	}
	if cfg.URL == "" {
		return cfg, errors.New("--url (or MEMORY_GATEWAY_URL) is required: the gateway's MCP endpoint, e.g. http://127.0.0.1:8080/mcp")
	}
	return cfg, checkGatewayURL(cfg.URL, cfg.InsecureHTTP)
}

// checkGatewayURL refuses a URL the key should not be sent to: anything but
// http(s), and plain http to another machine unless allowed. Only literal
// loopback hosts count as this machine (a name is not resolved: what it
// resolves to can change).
func checkGatewayURL(raw string, insecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("--url %q must be an absolute http:// or https:// URL", raw)
	}
	if u.Scheme == "https" || insecureHTTP {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("--url %q is plain http to another machine: the API key would cross the network unencrypted; use https, or pass --allow-insecure-http", raw)
}

// runMCPStdio serves a running gateway's MCP tools on standard input and
// output until the client closes them or ctx ends.
func runMCPStdio(ctx context.Context, p process, args []string) int {
	stderr := p.stderr
	cfg, err := parseMCPStdioConfig(args, p.getenv, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "memory-gateway mcp-stdio:", err)
		return 2
	}
	logger, err := newLogger(cfg.LogLevel, "text", stderr)
	if err != nil {
		fmt.Fprintln(stderr, "memory-gateway mcp-stdio:", err)
		return 2
	}
	proxy, err := mcpserver.NewProxy(ctx, mcpserver.ProxyConfig{URL: cfg.URL, Key: cfg.Key, Env: lifecycle.NewEnv(logger, nil), Version: version()})
	if err != nil {
		logger.Error("memory-gateway mcp-stdio: " + err.Error())
		return 1
	}
	defer proxy.Close()
	if err := proxy.Server().Run(ctx, &mcp.StdioTransport{}); err != nil && ctx.Err() == nil {
		logger.Error("memory-gateway mcp-stdio: " + err.Error())
		return 1
	}
	return 0
}
