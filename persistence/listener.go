package persistence

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Listener defaults.
const (
	// ListenerPingInterval is how long the listener waits for a notification
	// before it checks its connection with a ping of its own.
	ListenerPingInterval = 5 * time.Second
	listenerPingChannel  = "memory_gateway_ping"
	listenerRetryMax     = 5 * time.Second
)

// ListenerHandlers receive what the listener hears. Any may be nil.
type ListenerHandlers struct {
	// Outbox is called when outbox work was inserted or freed.
	Outbox func()
	// Jobs is called with the ids of changed commit jobs.
	Jobs func(ids []string)
	// Reconnected is called after the connection was lost and re-established:
	// notifications sent meanwhile are gone, so state must be re-read.
	Reconnected func()
}

// Listener holds one PostgreSQL connection in LISTEN on the gateway's
// channels and turns notifications into calls. Notifications are hints: a
// lost one is covered by the worker's poll and by the resync after a
// reconnect.
type Listener struct {
	db       *DB
	handlers ListenerHandlers
	logger   *slog.Logger

	runner lifecycle.Runner
	// listening is closed once the first LISTEN succeeded.
	listening chan struct{}
	once      sync.Once

	mu sync.Mutex
	ln *pgdriver.Listener // the current connection, closed by Stop to end a blocked read
}

// NewListener returns a Listener; it does nothing until Start.
func NewListener(db *DB, handlers ListenerHandlers, env lifecycle.Env) *Listener {
	return &Listener{db: db, handlers: handlers, logger: env.Logger(), listening: make(chan struct{})}
}

// Start runs the listener until Stop (lifecycle.Component).
func (l *Listener) Start(ctx context.Context) error { return l.runner.Start(ctx, l.run) }

// Listening is closed once the listener is subscribed.
func (l *Listener) Listening() <-chan struct{} { return l.listening }

// Stop closes the connection and waits for the loop to end.
func (l *Listener) Stop(ctx context.Context) error { return l.runner.Stop(ctx) }

// closeConnection ends a read blocked on the current connection.
func (l *Listener) closeConnection() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		_ = l.ln.Close()
	}
}

func (l *Listener) run(ctx context.Context) {
	// A session checks ctx under l.mu before it keeps a new connection, so
	// once this has run no connection outlives the loop's end.
	stop := context.AfterFunc(ctx, l.closeConnection)
	defer stop()
	retry := 100 * time.Millisecond
	connected := false
	for ctx.Err() == nil {
		err := l.session(ctx, connected)
		if ctx.Err() != nil {
			return
		}
		connected = true
		l.logger.Warn("persistence: notification connection lost, reconnecting",
			slog.String("err", err.Error()), slog.Duration("retry_in", retry))
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, listenerRetryMax)
	}
}

// session listens on one connection until it fails.
func (l *Listener) session(ctx context.Context, reconnect bool) error {
	ln := pgdriver.NewListener(l.db.DB)
	l.mu.Lock()
	if ctx.Err() != nil {
		l.mu.Unlock()
		return ctx.Err()
	}
	l.ln = ln
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.ln = nil
		l.mu.Unlock()
		_ = ln.Close()
	}()
	if err := ln.Listen(ctx, OutboxChannel, JobsChannel, listenerPingChannel); err != nil {
		return err
	}
	l.once.Do(func() { close(l.listening) })
	if reconnect {
		l.logger.Info("persistence: notification connection re-established")
		if l.handlers.Reconnected != nil {
			l.handlers.Reconnected()
		}
		if l.handlers.Outbox != nil {
			l.handlers.Outbox()
		}
	}
	awaitingPing := false
	for {
		channel, payload, err := ln.ReceiveTimeout(ctx, ListenerPingInterval)
		if err != nil {
			var netErr net.Error
			if !errors.As(err, &netErr) || !netErr.Timeout() {
				return err
			}
			if awaitingPing {
				return errors.New("no answer to the listener's ping")
			}
			// Quiet for a while: prove the connection is alive.
			if _, err := l.db.ExecContext(ctx, "SELECT pg_notify(?, '')", listenerPingChannel); err != nil {
				return err
			}
			awaitingPing = true
			continue
		}
		awaitingPing = false
		switch channel {
		case OutboxChannel:
			if l.handlers.Outbox != nil {
				l.handlers.Outbox()
			}
		case JobsChannel:
			if l.handlers.Jobs != nil && payload != "" {
				l.handlers.Jobs(strings.Split(payload, ","))
			}
		}
	}
}
