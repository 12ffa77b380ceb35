package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/podwire/podwire/internal/rawio"
	"log/slog"
	"maps"
	"net"
	"os"
	"strings"

	"github.com/podwire/podwire/mux"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// DialOption configures Dial and DialOptions; given to NewClient it
// becomes a default of that Client's Dials. Options are sealed: only this
// package implements them.
type DialOption interface {
	ClientOption
	applyDial(*dialConfig) error
}

// dialOptionFunc adapts a function to DialOption.
type dialOptionFunc func(*dialConfig) error

func (f dialOptionFunc) applyDial(c *dialConfig) error { return f(c) }

// applyClient makes f a default of the Client's Dials.
func (f dialOptionFunc) applyClient(o *clientOptions) error {
	o.dial = append(o.dial, f)
	return nil
}

// dialConfig is the resolved configuration of one Dial; immutable after
// Client.config returns, shared by the dialer, credentials and resolver.
type dialConfig struct {
	client           *Client // owns the pools, certificates and watches
	socketDir        string
	peers            map[string]string // service -> host:port from WithPeerAddr
	tlsConf          *tls.Config       // from WithTLSConfig (a clone)
	tlsConfOrig      *tls.Config       // the caller's pointer, to share pools
	certFiles        []string          // from WithTLSFiles: cert, key, CA
	certs            *CertSource       // loaded certFiles (the Client's copy)
	insecureLoopback bool
	serverName       string // from WithServerName
	peerTemplate     string // from WithPeerTemplate, else PODWIRE_PEER_TEMPLATE
	log              *slog.Logger
	grpcOpts         []grpc.DialOption
	tuning           Config
	windows          flowWindows // WithStaticWindows, WithBDPWindows
}

// WithSocketDir sets where <name>.sock sockets are looked up. Default
// $PODWIRE_SOCKET_DIR, else /run/podwire.
func WithSocketDir(dir string) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if dir == "" {
			return configError("WithSocketDir", "empty dir")
		}
		c.socketDir = dir
		return nil
	})
}

// WithPeerAddr sets the remote host:port of a service, used for its bare
// name when no live socket exists. It overrides PODWIRE_PEER_<NAME>.
func WithPeerAddr(service, hostport string) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if err := mux.ValidateServiceName(service); err != nil {
			return configError("WithPeerAddr", "service %q: %v", service, err)
		}
		if _, err := parseHostPort(hostport, hostport); err != nil {
			return configError("WithPeerAddr", "%v", err)
		}
		c.peers[service] = hostport
		return nil
	})
}

// PeerTemplateEnv names the environment variable that gives the peer
// address template when WithPeerTemplate is not used.
const PeerTemplateEnv = "PODWIRE_PEER_TEMPLATE"

// WithPeerTemplate sets how a bare name with no live socket and no explicit
// peer address becomes a DNS host:port: every "{service}" in tmpl is
// replaced by the name, e.g. "{service}.shop.svc.cluster.local:15443" sends
// "inventory" to inventory.shop.svc.cluster.local:15443, resolved by DNS at
// dial time. WithPeerAddr and PODWIRE_PEER_<NAME> take precedence. Default
// $PODWIRE_PEER_TEMPLATE; empty means no DNS fallback.
func WithPeerTemplate(tmpl string) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if err := checkPeerTemplate(tmpl); err != nil {
			return configError("WithPeerTemplate", "%v", err)
		}
		c.peerTemplate = tmpl
		return nil
	})
}

// checkPeerTemplate reports whether tmpl names the service and a port.
func checkPeerTemplate(tmpl string) error {
	if !strings.Contains(tmpl, "{service}") {
		return fmt.Errorf("template %q has no {service} placeholder; write e.g. {service}.shop.svc.cluster.local:15443", tmpl)
	}
	hp := strings.ReplaceAll(tmpl, "{service}", "svc")
	if _, err := parseHostPort(tmpl, hp); err != nil {
		return err
	}
	return nil
}

// WithTLSFiles sets the client certificate, key and CA bundle (PEM) for TLS
// targets; files are re-read when they change (checked at each TLS
// handshake). Dials of one Client with the same files and
// Config.MinTLSVersion share the Client's loaded copy, so only the first
// reads and parses them. Conflicts with WithTLSConfig.
func WithTLSFiles(certFile, keyFile, caFile string) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if c.tlsConf != nil {
			return configError("WithTLSFiles", "conflicts with WithTLSConfig; pass one of them")
		}
		c.certFiles = []string{certFile, keyFile, caFile}
		return nil
	})
}

// WithTLSConfig sets the TLS configuration for TLS targets (it is cloned;
// ServerName and NextProtos are set per connection). Conflicts with
// WithTLSFiles.
func WithTLSConfig(conf *tls.Config) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if c.certFiles != nil {
			return configError("WithTLSConfig", "conflicts with WithTLSFiles; pass one of them")
		}
		if conf == nil {
			return configError("WithTLSConfig", "nil *tls.Config")
		}
		c.tlsConf, c.tlsConfOrig = conf.Clone(), conf
		return nil
	})
}

// WithServerName sets the name verified in the server's certificate.
// Default: the service name for bare names, the host for tls://host:port.
func WithServerName(name string) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if name == "" {
			return configError("WithServerName", "empty name")
		}
		c.serverName = name
		return nil
	})
}

// WithInsecureLoopback allows tcp:// targets (plaintext), on loopback only.
func WithInsecureLoopback() DialOption {
	return dialOptionFunc(func(c *dialConfig) error { c.insecureLoopback = true; return nil })
}

// WithLogger sets the logger for transport selection; default discards.
func WithLogger(l *slog.Logger) DialOption {
	return dialOptionFunc(func(c *dialConfig) error { c.log = loggerOr(l); return nil })
}

// WithGRPCOptions appends grpc dial options (interceptors, call options).
func WithGRPCOptions(opts ...grpc.DialOption) DialOption {
	return dialOptionFunc(func(c *dialConfig) error { c.grpcOpts = append(c.grpcOpts, opts...); return nil })
}

// WithConfig sets socket and timeout tuning; zero fields mean their
// defaults (DefaultConfig).
func WithConfig(cfg Config) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if err := cfg.Validate(); err != nil {
			return err
		}
		c.tuning = cfg.withDefaults()
		return nil
	})
}

// newDialConfig applies opts over the defaults and the environment; the
// Client binds the result to itself and loads the certificates.
func newDialConfig(opts []DialOption) (*dialConfig, error) {
	c := &dialConfig{
		socketDir: defaultSocketDir(),
		peers:     map[string]string{},
		log:       loggerOr(nil),
		tuning:    DefaultConfig(),
	}
	if tmpl := os.Getenv(PeerTemplateEnv); tmpl != "" {
		if err := checkPeerTemplate(tmpl); err != nil {
			return nil, configError(PeerTemplateEnv, "%v", err)
		}
		c.peerTemplate = tmpl
	}
	for _, o := range opts {
		if err := o.applyDial(c); err != nil {
			return nil, err
		}
	}
	c.peers = maps.Clone(c.peers)
	return c, nil
}

// hasTLS reports whether TLS targets can be dialed.
func (c *dialConfig) hasTLS() bool { return c.tlsConf != nil || c.certs != nil }

// tlsClientConfig returns the TLS configuration for one connection.
func (c *dialConfig) tlsClientConfig(serverName string, alpn []string) (*tls.Config, error) {
	if c.serverName != "" {
		serverName = c.serverName
	}
	switch {
	case c.certs != nil:
		return c.certs.ClientConfig(serverName, alpn), nil
	case c.tlsConf != nil:
		conf := c.tlsConf.Clone()
		if conf.ServerName == "" {
			conf.ServerName = serverName
		}
		conf.NextProtos = alpn
		if conf.MinVersion == 0 {
			conf.MinVersion = c.tuning.MinTLSVersion
		}
		return conf, nil
	}
	return nil, &TLSConfigError{What: "no client certificate for a TLS connection to " + serverName}
}

// peerAddr returns the remote address of service and where it came from.
func (c *dialConfig) peerAddr(service string) (hostport, source string) {
	if hp, ok := c.peers[service]; ok {
		return hp, "option"
	}
	if hp := os.Getenv(envName(service)); hp != "" {
		return hp, "env"
	}
	if c.peerTemplate != "" {
		return strings.ReplaceAll(c.peerTemplate, "{service}", service), "template"
	}
	return "", ""
}

// dialOptions are the credentials, dialer, resolver and reconnect backoff
// of cfg; options from WithGRPCOptions come after them and win.
func (c *dialConfig) dialOptions() []grpc.DialOption {
	bo := backoff.DefaultConfig
	bo.BaseDelay = min(bo.BaseDelay, c.tuning.ReconnectMaxDelay/10)
	bo.MaxDelay = c.tuning.ReconnectMaxDelay
	return append([]grpc.DialOption{
		grpc.WithTransportCredentials(clientCreds{cfg: c}),
		grpc.WithContextDialer(c.dial),
		grpc.WithResolvers(&resolverBuilder{client: c.client, cfg: c}),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: c.tuning.HandshakeTimeout}),
	}, c.windows.dialOptions()...)
}

// grpcTarget maps a parsed target to a grpc target and :authority.
func (c *dialConfig) grpcTarget(ctx context.Context, t target) (string, string, error) {
	switch t.kind {
	case targetUnix:
		if err := checkSocketPath(t.addr); err != nil {
			return "", "", err
		}
		return "passthrough:///" + addrUnix + t.addr, "localhost", nil
	case targetAbstract:
		if _, err := abstractAddr(t.addr); err != nil {
			return "", "", err
		}
		return "passthrough:///" + addrAbstract + t.addr, "localhost", nil
	case targetTLS:
		if !c.hasTLS() {
			return "", "", &TLSConfigError{What: "client certificate for tls://" + t.addr}
		}
		return "passthrough:///" + addrTLS + t.addr, t.addr, nil
	case targetTCP:
		host, _, _ := net.SplitHostPort(t.addr)
		switch {
		case !isLoopbackHost(host):
			return "", "", &InsecureTargetError{Target: "tcp://" + t.addr, Reason: "host is not loopback"}
		case !c.insecureLoopback:
			return "", "", &InsecureTargetError{Target: "tcp://" + t.addr, Reason: "WithInsecureLoopback not set"}
		}
		return "passthrough:///" + addrTCP + t.addr, t.addr, nil
	}
	if _, err := c.selectRoute(ctx, t.addr); err != nil {
		return "", "", err
	}
	return Scheme + ":///" + t.addr, t.addr, nil
}

// Dialer address prefixes (resolver address → dialer).
const (
	addrUnix     = "unix:"
	addrNamed    = "unix-named:" // a <socket dir>/<name>.sock found by name: its owner is checked
	addrAbstract = "unix-abstract:"
	addrTLS      = "tls:"
	addrTCP      = "tcp:"
	addrMux      = "mux:" // mux:service@host:port
)

// dial is grpc's ContextDialer: it dials the address forms the resolver and
// grpcTarget produce; Unix, TCP and mux conns carry their identity, TLS
// conns get it from the credentials' handshake.
func (c *dialConfig) dial(ctx context.Context, addr string) (net.Conn, error) {
	switch {
	case strings.HasPrefix(addr, addrAbstract):
		a, err := abstractAddr(strings.TrimPrefix(addr, addrAbstract))
		if err != nil {
			return nil, err
		}
		return c.dialUnix(ctx, a)
	case strings.HasPrefix(addr, addrNamed):
		return c.dialNamedUnix(ctx, strings.TrimPrefix(addr, addrNamed))
	case strings.HasPrefix(addr, addrUnix):
		return c.dialUnix(ctx, strings.TrimPrefix(strings.TrimPrefix(addr, addrUnix), "//"))
	case strings.HasPrefix(addr, addrTLS):
		conn, err := c.tuning.dialTCP(ctx, strings.TrimPrefix(addr, addrTLS))
		if err != nil {
			return nil, err
		}
		return &clientConn{Conn: conn}, nil
	case strings.HasPrefix(addr, addrTCP):
		conn, err := c.tuning.dialTCP(ctx, strings.TrimPrefix(addr, addrTCP))
		if err != nil {
			return nil, err
		}
		return &clientConn{Conn: conn, ai: tcpAuthInfo(conn.RemoteAddr())}, nil
	case strings.HasPrefix(addr, addrMux):
		service, hostport, ok := strings.Cut(strings.TrimPrefix(addr, addrMux), "@")
		if !ok {
			return nil, &TargetError{Target: addr, Reason: "internal mux address without service@"}
		}
		return c.dialRemote(ctx, service, hostport)
	}
	return nil, &TargetError{Target: addr, Reason: "unknown address form from the resolver"}
}

// dialUnix dials a Unix socket and reads the server's credentials.
func (c *dialConfig) dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	cred, err := peerCred(conn)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		conn.Close()
		return nil, err
	}
	return &clientConn{Conn: rawio.Wrap(conn), ai: unixAuthInfo(cred, conn.RemoteAddr())}, nil
}
