package lifecycle

import (
	"log/slog"
	"time"
)

// Env is what the composition root hands every component alike: where it
// logs and what time it is. The zero Env discards logs and reads the
// system clock, so no component defaults them itself.
type Env struct {
	logger *slog.Logger
	clock  func() time.Time
}

// NewEnv is an Env logging to logger and reading clock; either may be nil
// (nothing logged, the system clock).
func NewEnv(logger *slog.Logger, clock func() time.Time) Env {
	return Env{logger: logger, clock: clock}
}

// discard is the logger of an Env without one.
var discard = slog.New(slog.DiscardHandler)

// Logger is where the component logs.
func (e Env) Logger() *slog.Logger {
	if e.logger == nil {
		return discard
	}
	return e.logger
}

// Clock is the component's clock.
func (e Env) Clock() func() time.Time {
	if e.clock == nil {
		return time.Now
	}
	return e.clock
}

// Now reads the clock.
func (e Env) Now() time.Time { return e.Clock()() }
