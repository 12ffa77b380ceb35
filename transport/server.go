package transport

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// ServerOption configures ServerOptions. Options are sealed.
type ServerOption interface {
	applyServer(*serverConfig) error
}

type serverOptionFunc func(*serverConfig) error

func (f serverOptionFunc) applyServer(c *serverConfig) error { return f(c) }

// serverConfig collects ServerOptions.
type serverConfig struct {
	allow             []string
	log               *slog.Logger
	connectionTimeout time.Duration
	minPingInterval   time.Duration
	maxStreams        uint32                // WithMaxConcurrentStreams
	restrictHealth    bool                  // WithHealthToAll(false)
	reg               prometheus.Registerer // WithMetrics; nil counts nothing
	windows           flowWindows           // WithServerStaticWindows, WithServerBDPWindows
}

// WithAllow sets the allow-list: "uid:N", "gid:N" (Unix sockets, from
// SO_PEERCRED; gid is the peer's primary group), "spiffe://domain/path",
// "dns:name" and "dns:*.domain" (TLS client certificates; the wildcard
// matches one label), as parsed by ParseAllowList. A caller matching any entry is
// allowed. Without entries only the server's own uid (Unix sockets) and any
// certificate from the trusted CA (TLS) are allowed.
func WithAllow(entries ...string) ServerOption {
	return serverOptionFunc(func(c *serverConfig) error { c.allow = append(c.allow, entries...); return nil })
}

// WithServerLogger sets the logger for denials; default discards.
func WithServerLogger(l *slog.Logger) ServerOption {
	return serverOptionFunc(func(c *serverConfig) error { c.log = loggerOr(l); return nil })
}

// WithConnectionTimeout bounds how long a new connection may take to send
// the HTTP/2 preface and settings (grpc.ConnectionTimeout). Default 10s.
func WithConnectionTimeout(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) error {
		if d <= 0 {
			return configError("WithConnectionTimeout", "must be > 0, got %v", d)
		}
		c.connectionTimeout = d
		return nil
	})
}

// DefaultMaxConcurrentStreams is the HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
// a podwire server advertises (WithMaxConcurrentStreams).
const DefaultMaxConcurrentStreams = 1000

// WithMaxConcurrentStreams caps the streams (calls) one connection may
// have open at once (grpc.MaxConcurrentStreams), which grpc-go advertises
// to clients and uses to bound the handlers a connection runs, its defence
// against HTTP/2 rapid reset. Default DefaultMaxConcurrentStreams (1000);
// must be > 0.
func WithMaxConcurrentStreams(n uint32) ServerOption {
	return serverOptionFunc(func(c *serverConfig) error {
		if n == 0 {
			return configError("WithMaxConcurrentStreams", "must be > 0, got %d", n)
		}
		c.maxStreams = n
		return nil
	})
}

// ServerOptions returns the grpc server options of a podwire server:
// credentials that report each caller's identity (PeerFrom), the
// authorization interceptors (WithAllow; health and reflection open to any
// authenticated peer unless WithHealthToAll(false)), the metrics of
// WithMetrics, a connection setup timeout, keepalive enforcement and a cap
// on concurrent streams per connection (WithMaxConcurrentStreams). Serve a
// transport.Listener with the server.
func ServerOptions(opts ...ServerOption) ([]grpc.ServerOption, error) {
	c := &serverConfig{log: loggerOr(nil), connectionTimeout: 10 * time.Second, minPingInterval: 5 * time.Second,
		maxStreams: DefaultMaxConcurrentStreams}
	for _, o := range opts {
		if err := o.applyServer(c); err != nil {
			return nil, err
		}
	}
	allow, err := ParseAllowList(c.allow)
	if err != nil {
		return nil, err
	}
	p := &authorizer{allow: allow, healthToAll: !c.restrictHealth, log: newDenyLog(c.log, denyLogWindow)}
	var sopts []grpc.ServerOption
	if c.reg != nil {
		m, err := newServerMetrics(c.reg)
		if err != nil {
			return nil, err
		}
		p.denied = m.denied
		sopts = m.options()
	}
	sopts = append(sopts, c.windows.serverOptions()...)
	return append(sopts,
		grpc.Creds(serverCreds{}),
		grpc.ChainUnaryInterceptor(p.unary),
		grpc.ChainStreamInterceptor(p.stream),
		grpc.ConnectionTimeout(c.connectionTimeout),
		grpc.MaxConcurrentStreams(c.maxStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: c.minPingInterval, PermitWithoutStream: true}),
	), nil
}
