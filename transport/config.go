package transport

import (
	"context"
	"crypto/tls"
	"github.com/podwire/podwire/internal/rawio"
	"net"
	"syscall"
	"time"
)

// Config is the numeric and socket tuning shared by Listen and Dial. A
// zero field means its documented default, applied in one place
// (withDefaults), so Config{HandshakeTimeout: 5 * time.Second} changes
// only the handshake timeout. Validate rejects only values that were set
// and are wrong. DefaultConfig returns the defaults filled in.
type Config struct {
	// DelaySmallWrites turns TCP_NODELAY off (Nagle's algorithm batches
	// small writes). Default false: small gRPC frames are sent at once.
	DelaySmallWrites bool
	// KeepAliveIdle is the TCP keepalive idle time before the first probe;
	// a negative value turns SO_KEEPALIVE off. Default 30s.
	KeepAliveIdle time.Duration
	// KeepAliveInterval is the time between keepalive probes. Default 10s.
	KeepAliveInterval time.Duration
	// KeepAliveCount is the number of unanswered probes before the kernel
	// drops the connection. Default 3.
	KeepAliveCount int
	// Linger is SO_LINGER in seconds when > 0; a negative value closes
	// with a reset (SO_LINGER 0). Default 0: the OS default (close returns
	// at once and unsent data is sent in the background).
	Linger int
	// NoReuseAddr leaves SO_REUSEADDR off on TCP listeners (Unix-like
	// systems). Default false: SO_REUSEADDR is set.
	NoReuseAddr bool
	// HandshakeTimeout bounds a TLS handshake. Default 10s.
	HandshakeTimeout time.Duration
	// MaxPendingHandshakes caps the TLS handshakes in progress on one
	// inbound TLS port (Listen's TLSAddr, a TLSListener): a connection
	// accepted beyond it is closed at once, so a flood of silent clients
	// cannot grow goroutines without bound. Default 256.
	MaxPendingHandshakes int
	// MaxPendingHandshakesPerSource caps the pending handshakes of one
	// source address (an IPv4 address or an IPv6 /64) on a TLS port; when
	// every MaxPendingHandshakes slot is taken, a new connection evicts the
	// oldest silent one of the source holding the most (see
	// TLSListener). Default 16.
	MaxPendingHandshakesPerSource int
	// FirstByteTimeout bounds the wait for the first bytes of an accepted
	// connection (the TLS ClientHello, or the HTTP/2 preface on a Unix
	// socket); a silent client is cut off, on a TLS port before
	// HandshakeTimeout. Default 10s.
	FirstByteTimeout time.Duration
	// ProbeTimeout bounds the connect that tells a live socket from a stale
	// one. Default 1s.
	ProbeTimeout time.Duration
	// MinTLSVersion is the lowest TLS version accepted. Default TLS 1.3;
	// set tls.VersionTLS12 to allow 1.2.
	MinTLSVersion uint16
	// ReconnectMaxDelay caps the wait between a client channel's attempts
	// to reconnect (gRPC's connection backoff, which otherwise grows to
	// 120 s). A podwire channel reconnects to a local socket or to a stream
	// of a mux pool that already backs off per peer (mux.PoolConfig
	// BackoffMax), so a second long backoff on top only delays recovery:
	// with grpc's default, an app behind a sidecar took over 5 s to resume
	// after a 26 s partition healed (integration faults test). Default 1s.
	ReconnectMaxDelay time.Duration
}

// DefaultMaxPendingHandshakes is Config.MaxPendingHandshakes by default.
const DefaultMaxPendingHandshakes = 256

// DefaultConfig returns the defaults documented on Config, filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults returns c with every zero field set to its default: the
// one place defaults are applied.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.KeepAliveIdle, 30*time.Second)
	def(&c.KeepAliveInterval, 10*time.Second)
	defInt(&c.KeepAliveCount, 3)
	def(&c.HandshakeTimeout, 10*time.Second)
	defInt(&c.MaxPendingHandshakes, DefaultMaxPendingHandshakes)
	defInt(&c.MaxPendingHandshakesPerSource, DefaultMaxPendingHandshakesPerSource)
	def(&c.FirstByteTimeout, 10*time.Second)
	def(&c.ProbeTimeout, time.Second)
	if c.MinTLSVersion == 0 {
		c.MinTLSVersion = tls.VersionTLS13
	}
	def(&c.ReconnectMaxDelay, time.Second)
	return c
}

// orDefault is withDefaults (the name the Listener, TLSListener and dialer use).
func (c Config) orDefault() Config { return c.withDefaults() }

// perSource is MaxPendingHandshakesPerSource with its default applied.
func (c Config) perSource() int { return c.withDefaults().MaxPendingHandshakesPerSource }

// Validate reports the first field that was set to a wrong value, naming
// it; zero fields are valid (they mean their defaults).
func (c Config) Validate() error {
	switch {
	case c.KeepAliveInterval < 0:
		return configError("KeepAliveInterval", "must be > 0 (or 0 for 10s), got %v", c.KeepAliveInterval)
	case c.KeepAliveCount < 0:
		return configError("KeepAliveCount", "must be > 0 (or 0 for 3), got %d", c.KeepAliveCount)
	case c.HandshakeTimeout < 0:
		return configError("HandshakeTimeout", "must be > 0 (or 0 for 10s), got %v", c.HandshakeTimeout)
	case c.MaxPendingHandshakes < 0:
		return configError("MaxPendingHandshakes", "must be > 0 (or 0 for %d), got %d", DefaultMaxPendingHandshakes, c.MaxPendingHandshakes)
	case c.MaxPendingHandshakesPerSource < 0:
		return configError("MaxPendingHandshakesPerSource", "must be > 0 (or 0 for %d), got %d", DefaultMaxPendingHandshakesPerSource, c.MaxPendingHandshakesPerSource)
	case c.FirstByteTimeout < 0:
		return configError("FirstByteTimeout", "must be > 0 (or 0 for 10s), got %v", c.FirstByteTimeout)
	case c.ProbeTimeout < 0:
		return configError("ProbeTimeout", "must be > 0 (or 0 for 1s), got %v", c.ProbeTimeout)
	case c.ReconnectMaxDelay < 0:
		return configError("ReconnectMaxDelay", "must be > 0 (or 0 for 1s), got %v", c.ReconnectMaxDelay)
	case c.MinTLSVersion != 0 && c.MinTLSVersion != tls.VersionTLS12 && c.MinTLSVersion != tls.VersionTLS13:
		return configError("MinTLSVersion", "must be tls.VersionTLS12 or tls.VersionTLS13 (or 0 for 1.3), got %#x", c.MinTLSVersion)
	}
	return nil
}

// keepAlive returns the net package's keepalive settings.
func (c Config) keepAlive() net.KeepAliveConfig {
	if c.KeepAliveIdle < 0 {
		return net.KeepAliveConfig{Enable: false}
	}
	return net.KeepAliveConfig{
		Enable:   true,
		Idle:     c.KeepAliveIdle,
		Interval: c.KeepAliveInterval,
		Count:    c.KeepAliveCount,
	}
}

// listenConfig returns a net.ListenConfig applying the socket options that
// are set before bind; per-connection options are applied by tuneTCP.
func (c Config) listenConfig() *net.ListenConfig {
	lc := &net.ListenConfig{KeepAliveConfig: c.keepAlive()}
	if ctl := reuseAddrControl(!c.NoReuseAddr); ctl != nil {
		lc.Control = ctl
	}
	return lc
}

// dialer returns a net.Dialer with the keepalive settings.
func (c Config) dialer() *net.Dialer {
	return &net.Dialer{KeepAliveConfig: c.keepAlive()}
}

// tuneTCP applies TCP_NODELAY and SO_LINGER to a TCP connection.
func (c Config) tuneTCP(conn net.Conn) error {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	if err := tc.SetNoDelay(!c.DelaySmallWrites); err != nil {
		return err
	}
	switch {
	case c.Linger > 0:
		return tc.SetLinger(c.Linger)
	case c.Linger < 0:
		return tc.SetLinger(0)
	}
	return nil
}

// controlFunc is the type of net.ListenConfig.Control.
type controlFunc = func(network, address string, c syscall.RawConn) error

// dialTCP dials host:port with the socket options applied.
func (c Config) dialTCP(ctx context.Context, hostport string) (net.Conn, error) {
	conn, err := c.dialer().DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	if err := c.tuneTCP(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return rawio.Wrap(conn), nil
}
