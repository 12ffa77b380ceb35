package purchase

import (
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc/peer"
)

// Config holds the numeric tuning of a Server.
type Config struct {
	// CallTimeout bounds an RPC whose caller set no deadline, retries
	// included. Default 10s.
	CallTimeout time.Duration
	// AttemptTimeout bounds one call to inventory. Default 3s.
	AttemptTimeout time.Duration
	// RetryBase is the first backoff after a retryable failure; it doubles
	// per attempt, with full jitter. Default 20ms.
	RetryBase time.Duration
	// RetryMax caps the backoff. Default 1s.
	RetryMax time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{CallTimeout: 10 * time.Second, AttemptTimeout: 3 * time.Second, RetryBase: 20 * time.Millisecond, RetryMax: time.Second}
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.CallTimeout <= 0:
		return fmt.Errorf("podwire/purchase: Config.CallTimeout %v must be positive (default 10s)", c.CallTimeout)
	case c.AttemptTimeout <= 0:
		return fmt.Errorf("podwire/purchase: Config.AttemptTimeout %v must be positive (default 3s)", c.AttemptTimeout)
	case c.RetryBase <= 0 || c.RetryMax < c.RetryBase:
		return fmt.Errorf("podwire/purchase: Config.RetryBase %v and RetryMax %v must satisfy 0 < base <= max (defaults 20ms, 1s)", c.RetryBase, c.RetryMax)
	}
	return nil
}

// Option changes optional behaviour of NewServer.
type Option interface{ apply(*options) }

type options struct {
	cfg      Config
	log      *slog.Logger
	peerName func(*peer.Peer) string
	metrics  *Metrics
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithConfig sets the numeric tuning; default DefaultConfig().
func WithConfig(c Config) Option { return optionFunc(func(o *options) { o.cfg = c }) }

// WithLogger sets the logger; default discards.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.log = l }) }

// WithPeerName sets how the transport that reached inventory is named on
// each order (Order.inventory_transport). The default asks podwire's
// transport package and falls back to the address's network.
func WithPeerName(f func(*peer.Peer) string) Option {
	return optionFunc(func(o *options) { o.peerName = f })
}

// WithMetrics records counters on m; default none.
func WithMetrics(m *Metrics) Option { return optionFunc(func(o *options) { o.metrics = m }) }
