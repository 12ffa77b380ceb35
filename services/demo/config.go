package demo

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Config tunes a demo run. Start from DefaultConfig.
type Config struct {
	// Orders is how many orders the batch places. Default 200.
	Orders int
	// Concurrency is how many orders are in flight at once. Default 16.
	Concurrency int
	// Keep leaves both services running after the batch and prints how to
	// reach them.
	Keep bool
	// Executable is the podwire binary started as `serve inventory` and
	// `serve purchase`; empty means os.Executable() (the running podwire).
	Executable string
	// Dir holds the sockets, data files and logs; empty means a new temp
	// dir, removed at the end unless Keep.
	Dir string
	// StartTimeout bounds each service's start until healthy. Default 20s.
	StartTimeout time.Duration
	// StopTimeout bounds each service's graceful stop before it is
	// killed. Default 15s.
	StopTimeout time.Duration
	// Out receives the table. Default io.Discard.
	Out io.Writer
	// Logger receives progress logs; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns 200 orders, 16 at a time, 20s to start, 15s to stop.
func DefaultConfig() Config {
	return Config{Orders: 200, Concurrency: 16, StartTimeout: 20 * time.Second, StopTimeout: 15 * time.Second}
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.Orders < 1 || c.Orders > 1_000_000:
		return fmt.Errorf("%w: --orders %d: use 1 to 1000000", ErrConfig, c.Orders)
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return fmt.Errorf("%w: --concurrency %d: use 1 to 1024", ErrConfig, c.Concurrency)
	case c.StartTimeout <= 0 || c.StopTimeout <= 0:
		return fmt.Errorf("%w: StartTimeout %v and StopTimeout %v must be positive", ErrConfig, c.StartTimeout, c.StopTimeout)
	}
	return nil
}
