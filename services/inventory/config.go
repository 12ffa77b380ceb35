package inventory

import (
	"fmt"
	"log/slog"
)

// Config holds the numeric tuning of a Server.
type Config struct {
	// WatchBuffer is the number of changes queued per WatchStock stream
	// before the watcher counts as slow and is resynchronised. Default 256.
	WatchBuffer int
	// MaxWatchers caps concurrent WatchStock streams; more are refused with
	// ResourceExhausted. Default 1024.
	MaxWatchers int
}

// DefaultConfig returns the defaults: WatchBuffer 256, MaxWatchers 1024.
func DefaultConfig() Config {
	return Config{WatchBuffer: 256, MaxWatchers: 1024}
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	if c.WatchBuffer < 1 || c.WatchBuffer > 1<<20 {
		return fmt.Errorf("podwire/inventory: Config.WatchBuffer %d is out of range; use 1 to %d (default 256)", c.WatchBuffer, 1<<20)
	}
	if c.MaxWatchers < 1 {
		return fmt.Errorf("podwire/inventory: Config.MaxWatchers %d must be at least 1 (default 1024)", c.MaxWatchers)
	}
	return nil
}

// Option changes optional behaviour of NewServer.
type Option interface{ apply(*options) }

type options struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithConfig sets the numeric tuning; default DefaultConfig().
func WithConfig(c Config) Option { return optionFunc(func(o *options) { o.cfg = c }) }

// WithLogger sets the logger; default discards.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.log = l }) }

// WithMetrics records counters on m; default none.
func WithMetrics(m *Metrics) Option { return optionFunc(func(o *options) { o.metrics = m }) }
