package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// ServerConfig is an HTTP listener's address and timeouts.
type ServerConfig struct {
	Addr              string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// OnShutdown runs when shutdown begins: streams are never idle, so
	// whatever serves them must be told to end them.
	OnShutdown func()
}

// Server serves a handler on a listener of its own (lifecycle.Component):
// Start listens and serves in the background, Stop shuts down gracefully
// until its context is done, then closes what is left.
type Server struct {
	cfg     ServerConfig
	handler http.Handler
	logger  *slog.Logger

	mu     sync.Mutex
	srv    *http.Server
	addr   string
	failed chan error
}

var _ lifecycle.Component = (*Server)(nil)

// NewServer returns a server of handler; it listens once started.
func NewServer(cfg ServerConfig, handler http.Handler, logger *slog.Logger) *Server {
	return &Server{cfg: cfg, handler: handler, logger: logger, failed: make(chan error, 1)}
}

// Start listens on the configured address and serves in the background.
// Requests get ctx's values, not its cancellation.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return fmt.Errorf("http server: %w", lifecycle.ErrStarted)
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", s.cfg.Addr, err)
	}
	base := context.WithoutCancel(ctx)
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	if s.cfg.OnShutdown != nil {
		srv.RegisterOnShutdown(s.cfg.OnShutdown)
	}
	s.srv, s.addr = srv, ln.Addr().String()
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- err
		}
	}()
	return nil
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Failed delivers the error that ended serving, if serving ends other than
// by Stop.
func (s *Server) Failed() <-chan error { return s.failed }

// Stop shuts the server down: it stops listening, ends streams, waits for
// requests in flight until ctx is done, then closes the connections left.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		// The grace period is over: what is still open is cut.
		_ = srv.Close()
	}
	return nil
}
