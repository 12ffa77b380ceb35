package transport

import (
	"context"
	"crypto/tls"
	"net"
	"syscall"
	"time"
)

// Config is the numeric and socket tuning shared by Listen and Dial. Start
// from DefaultConfig and change fields; the zero Config means DefaultConfig.
type Config struct {
	// NoDelay sets TCP_NODELAY (send small gRPC frames at once). Default true.
	NoDelay bool
	// KeepAliveIdle is the TCP keepalive idle time before the first probe;
	// a negative value turns SO_KEEPALIVE off. Default 30s.
	KeepAliveIdle time.Duration
	// KeepAliveInterval is the time between keepalive probes. Default 10s.
	KeepAliveInterval time.Duration
	// KeepAliveCount is the number of unanswered probes before the kernel
	// drops the connection. Default 3.
	KeepAliveCount int
	// Linger is SO_LINGER in seconds; -1 keeps the OS default (close returns
	// at once and unsent data is sent in the background). Default -1.
	Linger int
	// ReuseAddr sets SO_REUSEADDR on TCP listeners (Unix-like systems).
	// Default true.
	ReuseAddr bool
	// HandshakeTimeout bounds a TLS handshake. Default 10s.
	HandshakeTimeout time.Duration
	// MaxPendingHandshakes caps the TLS handshakes in progress on one
	// inbound TLS port (Listen's TLSAddr, a TLSListener): a connection
	// accepted beyond it is closed at once, so a flood of silent clients
	// cannot grow goroutines without bound. Must be > 0. Default 256.
	MaxPendingHandshakes int
	// MaxPendingHandshakesPerSource caps the pending handshakes of one
	// source address (an IPv4 address or an IPv6 /64) on a TLS port; when
	// every MaxPendingHandshakes slot is taken, a new connection evicts the
	// oldest silent one of the source holding the most (see
	// TLSListener). Zero means the default, 16; negative is invalid.
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

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		NoDelay:              true,
		KeepAliveIdle:        30 * time.Second,
		KeepAliveInterval:    10 * time.Second,
		KeepAliveCount:       3,
		Linger:               -1,
		ReuseAddr:            true,
		HandshakeTimeout:     10 * time.Second,
		MaxPendingHandshakes: DefaultMaxPendingHandshakes,
		FirstByteTimeout:     10 * time.Second,
		ProbeTimeout:         time.Second,
		MinTLSVersion:        tls.VersionTLS13,
		ReconnectMaxDelay:    time.Second,
	}
}

// orDefault returns DefaultConfig for the zero Config.
func (c Config) orDefault() Config {
	if c == (Config{}) {
		return DefaultConfig()
	}
	return c
}

// perSource is MaxPendingHandshakesPerSource with its default applied.
func (c Config) perSource() int {
	if c.MaxPendingHandshakesPerSource == 0 {
		return DefaultMaxPendingHandshakesPerSource
	}
	return c.MaxPendingHandshakesPerSource
}

// Validate reports the first field out of range, naming it.
func (c Config) Validate() error {
	switch {
	case c.KeepAliveIdle >= 0 && c.KeepAliveInterval <= 0:
		return configError("KeepAliveInterval", "must be > 0 when keepalive is on, got %v", c.KeepAliveInterval)
	case c.KeepAliveIdle >= 0 && c.KeepAliveCount <= 0:
		return configError("KeepAliveCount", "must be > 0 when keepalive is on, got %d", c.KeepAliveCount)
	case c.Linger < -1:
		return configError("Linger", "must be -1 (OS default) or >= 0 seconds, got %d", c.Linger)
	case c.HandshakeTimeout <= 0:
		return configError("HandshakeTimeout", "must be > 0, got %v", c.HandshakeTimeout)
	case c.MaxPendingHandshakes <= 0:
		return configError("MaxPendingHandshakes", "must be > 0, got %d", c.MaxPendingHandshakes)
	case c.MaxPendingHandshakesPerSource < 0:
		return configError("MaxPendingHandshakesPerSource", "must be >= 0 (0 means %d), got %d", DefaultMaxPendingHandshakesPerSource, c.MaxPendingHandshakesPerSource)
	case c.FirstByteTimeout <= 0:
		return configError("FirstByteTimeout", "must be > 0, got %v", c.FirstByteTimeout)
	case c.ProbeTimeout <= 0:
		return configError("ProbeTimeout", "must be > 0, got %v", c.ProbeTimeout)
	case c.ReconnectMaxDelay <= 0:
		return configError("ReconnectMaxDelay", "must be > 0, got %v", c.ReconnectMaxDelay)
	case c.MinTLSVersion != tls.VersionTLS12 && c.MinTLSVersion != tls.VersionTLS13:
		return configError("MinTLSVersion", "must be tls.VersionTLS12 or tls.VersionTLS13, got %#x", c.MinTLSVersion)
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
	if ctl := reuseAddrControl(c.ReuseAddr); ctl != nil {
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
	if err := tc.SetNoDelay(c.NoDelay); err != nil {
		return err
	}
	if c.Linger >= 0 {
		return tc.SetLinger(c.Linger)
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
	return conn, nil
}
