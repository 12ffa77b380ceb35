package transport

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/mux/muxprom"
)

// ErrClientClosed is returned by a Client's Dial, and by the dials of its
// channels, after Client.Close.
var ErrClientClosed = errors.New("podwire/transport: client closed (make a new transport.Client, or use transport.DefaultClient)")

// Client dials podwire targets, in the spirit of http.Client: it owns
// everything its channels share — the mux pools that carry bare names to
// remote peers (one per TLS identity, server name, tuning and logger; a
// pool closes when the last channel using it lets go), the certificates
// loaded from WithTLSFiles (one per file set; handshakes re-read files that
// changed), the socket-dir watches of its resolvers (one fsnotify watcher
// per dir), client mux tuning (WithMuxPool) and its metrics
// (WithRegisterer). Nothing is shared between two Clients, so Clients with
// different options never share a mux session.
//
// The options given to NewClient are the defaults of every Dial; the
// options of one Dial are applied after them. Environment variables
// (PODWIRE_SOCKET_DIR, PODWIRE_PEER_TEMPLATE, PODWIRE_PEER_<NAME>) are read
// at each Dial and selection, under the options.
//
// Close releases everything and makes later dials of the Client's channels
// fail with ErrClientClosed; close the grpc.ClientConns too. The zero
// Client is ready to use with the defaults. A Client is safe for
// concurrent use.
type Client struct {
	init sync.Once
	base []DialOption   // from NewClient: applied before each Dial's options
	pool mux.PoolConfig // client mux tuning; Dial and Session.Logger set per pool
	m    *clientMetrics

	ctx    context.Context    // ends at Close; selections run under it
	cancel context.CancelFunc // ends ctx

	mu     sync.Mutex              // guards the fields below
	closed bool                    // Close was called
	pools  map[poolKey]*poolEntry  // live shared pools
	certs  map[certKey]*CertSource // loaded client certificates
	dirs   *watchRegistry          // socket-dir watches of this Client's resolvers
}

// DefaultClient is the Client used by the package-level Dial and
// DialOptions and by the "podwire" grpc resolver scheme when it is used
// without DialOptions. It is built with the defaults on first use and
// reads the environment at each Dial; it is never closed by podwire.
// Code that needs other defaults, a registry for metrics, client mux
// tuning, or a Close that releases everything makes its own Client.
var DefaultClient = &Client{}

// ClientOption configures NewClient. Every DialOption is a ClientOption
// (it becomes a default of the Client's Dials); WithMuxPool and
// WithRegisterer configure only a Client. Options are sealed.
type ClientOption interface {
	applyClient(*clientOptions) error
}

// clientOptions collects ClientOptions.
type clientOptions struct {
	dial []DialOption
	pool mux.PoolConfig
	reg  prometheus.Registerer
}

// clientOptionFunc adapts a function to ClientOption.
type clientOptionFunc func(*clientOptions) error

func (f clientOptionFunc) applyClient(o *clientOptions) error { return f(o) }

// WithMuxPool sets the tuning of the Client's mux pools and their
// sessions (mux.PoolConfig, whose zero fields mean mux's documented
// defaults). The Client sets Dial, and Session.Logger when nil (to the
// Dial's logger); Session.Metrics is replaced when WithRegisterer is used.
func WithMuxPool(cfg mux.PoolConfig) ClientOption {
	return clientOptionFunc(func(o *clientOptions) error {
		check := cfg
		check.Dial = func(context.Context, string) (net.Conn, error) { return nil, nil }
		if err := check.Validate(); err != nil {
			return configError("WithMuxPool", "%v", err)
		}
		o.pool = cfg
		return nil
	})
}

// WithRegisterer registers the Client's collectors on reg:
// podwire_transport_selections_total and the mux collectors of its pools
// (podwire_mux_*). Without it the Client counts but registers nothing.
// Registering two Clients on one registry fails, like
// prometheus.MustRegister.
func WithRegisterer(reg prometheus.Registerer) ClientOption {
	return clientOptionFunc(func(o *clientOptions) error {
		if reg == nil {
			return configError("WithRegisterer", "nil registerer")
		}
		o.reg = reg
		return nil
	})
}

// NewClient returns a Client whose Dials use opts as defaults. It fails
// when an option is invalid (the error names it) or when its collectors
// cannot be registered.
func NewClient(opts ...ClientOption) (*Client, error) {
	var o clientOptions
	for _, opt := range opts {
		if err := opt.applyClient(&o); err != nil {
			return nil, err
		}
	}
	// Check the dial defaults now, so a bad option fails here and not at
	// the first Dial.
	if _, err := newDialConfig(o.dial); err != nil {
		return nil, err
	}
	m := newClientMetrics()
	if o.reg != nil {
		if err := m.register(o.reg); err != nil {
			return nil, err
		}
		o.pool.Session.Metrics = muxprom.New(o.reg)
	}
	c := &Client{base: o.dial, pool: o.pool, m: m}
	c.init.Do(c.setup)
	return c, nil
}

// setup makes the Client's maps and lifetime; it runs once, at NewClient
// or at the first use of a zero Client.
func (c *Client) setup() {
	if c.m == nil {
		c.m = newClientMetrics()
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.pools = map[poolKey]*poolEntry{}
	c.certs = map[certKey]*CertSource{}
	c.dirs = &watchRegistry{watches: map[string]*dirWatch{}}
}

// ready initializes a zero Client.
func (c *Client) ready() *Client {
	c.init.Do(c.setup)
	return c
}

// config resolves the Client's defaults, then opts, into a dial
// configuration bound to the Client.
func (c *Client) config(opts []DialOption) (*dialConfig, error) {
	c.ready()
	all := opts
	if len(c.base) > 0 {
		all = append(append(make([]DialOption, 0, len(c.base)+len(opts)), c.base...), opts...)
	}
	cfg, err := newDialConfig(all)
	if err != nil {
		return nil, err
	}
	cfg.client = c
	if cfg.certFiles != nil {
		if cfg.certs, err = c.certSource(cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// certSource returns the Client's loaded copy of cfg's files, loading
// them on first use. Reload errors are logged to the first Dial's logger.
func (c *Client) certSource(cfg *dialConfig) (*CertSource, error) {
	k := certKey{certFile: cfg.certFiles[0], keyFile: cfg.certFiles[1], caFile: cfg.certFiles[2], minVersion: cfg.tuning.MinTLSVersion}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	if s := c.certs[k]; s != nil {
		return s, nil
	}
	s, err := newPolledCertSource(k.certFile, k.keyFile, k.caFile, k.minVersion, cfg.log)
	if err != nil {
		return nil, err
	}
	c.certs[k] = s
	return s, nil
}

// Dial returns a gRPC client for target, as the package-level Dial
// describes, using the Client's pools, certificates and watches. opts
// apply after the Client's defaults.
func (c *Client) Dial(ctx context.Context, target string, opts ...DialOption) (*grpc.ClientConn, error) {
	cfg, err := c.config(opts)
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	grpcTarget, authority, err := cfg.grpcTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	gopts := append(cfg.dialOptions(), grpc.WithAuthority(authority))
	gopts = append(gopts, cfg.grpcOpts...)
	return grpc.NewClient(grpcTarget, gopts...)
}

// DialOptions returns the grpc dial options the Client's Dial uses (its
// credentials, dialer and resolver), for
// grpc.NewClient("podwire:///name", opts...).
func (c *Client) DialOptions(opts ...DialOption) ([]grpc.DialOption, error) {
	cfg, err := c.config(opts)
	if err != nil {
		return nil, err
	}
	return append(cfg.dialOptions(), cfg.grpcOpts...), nil
}

// Close closes the Client's mux pools (their streams end), stops its
// socket-dir watches and ends selections in progress, and waits for the
// goroutines they ran. Channels made by the Client fail to reconnect
// afterwards (ErrClientClosed). Safe to call more than once.
func (c *Client) Close() error {
	c.ready()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	pools := make([]*mux.Pool, 0, len(c.pools))
	for k, e := range c.pools {
		pools = append(pools, e.pool)
		delete(c.pools, k)
	}
	clear(c.certs)
	c.mu.Unlock()
	c.cancel()
	var errs []error
	for _, p := range pools {
		errs = append(errs, p.Close())
	}
	c.dirs.closeAll()
	return errors.Join(errs...)
}

// Dial returns a gRPC client for target using DefaultClient:
// "unix:///abs.sock", "unix-abstract:name" (Linux), "tls://host:port",
// "tcp://127.0.0.1:port" (with WithInsecureLoopback), or a bare service
// name such as "inventory", which goes over the live socket
// <socket dir>/inventory.sock if there is one, else over TCP+TLS to the
// peer address (WithPeerAddr or PODWIRE_PEER_INVENTORY), and follows the
// socket appearing or going away. ctx bounds the first selection only;
// the connection is made lazily by grpc.
func Dial(ctx context.Context, target string, opts ...DialOption) (*grpc.ClientConn, error) {
	return DefaultClient.Dial(ctx, target, opts...)
}

// DialOptions returns the grpc dial options DefaultClient's Dial uses (its
// credentials, dialer and resolver), for grpc.NewClient("podwire:///name",
// transport.DialOptions(...)...).
func DialOptions(opts ...DialOption) ([]grpc.DialOption, error) {
	return DefaultClient.DialOptions(opts...)
}
