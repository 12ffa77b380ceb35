package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/mux/muxprom"
	"github.com/podwire/podwire/sidecar/internal/h2drain"
	"github.com/podwire/podwire/sidecar/internal/handoff"
	"github.com/podwire/podwire/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// ALPN is the TLS application protocol of the sidecar link: the SDK's
// transport.ALPNMux, podwire-mux/1.
const ALPN = transport.ALPNMux

// Sidecar is a running (or startable) sidecar: the outbound Unix sockets,
// the inbound TLS listener and the admin server. Make it with New, then
// Start; stop it with Shutdown (drain) or Close (now). Safe for concurrent
// use.
type Sidecar struct {
	cfg       Config
	log       *slog.Logger
	reg       *prometheus.Registry
	m         *metrics
	rm        *drainMetrics
	muxCfg    mux.Config
	givenLn   net.Listener     // from WithInboundListener, or nil
	parent    *handoff.Parent  // the predecessor handing its listeners over, or nil
	tcfg      transport.Config // handshake tuning of the inbound listener and upstream dials
	certs     *transport.CertSource
	serverTLS *tls.Config
	policies  map[string]*transport.AllowList // by service name; immutable after New
	upFlows   map[string]*flow                // by upstream name; immutable after New
	pool      *mux.Pool
	muxSrv    *transport.MuxServer // serves inbound streams
	ctx       context.Context      // ends at Close: bounds work on request paths
	cancel    context.CancelFunc   // ends ctx
	started   atomic.Int64         // unix nanos of Start; 0 before

	starting   atomic.Bool // Start was called
	draining   atomic.Bool // Shutdown began: not ready, no new accepts
	done       chan struct{}
	restartReq chan struct{} // POST /restart; buffered 1
	doneOnce   sync.Once

	mu         sync.Mutex // guards the fields below
	closed     bool
	inLn       net.Listener
	upLns      map[string]net.Listener // by upstream name
	admin      *adminServer
	metricsSrv *metricsServer // Config.MetricsListen; nil when off
	sessions   map[*mux.Session]*inSession
	conns      map[net.Conn]struct{}             // TLS conns before they become sessions, and app conns
	peerIDs    map[string]identity               // upstream address → identity it presented
	dialErrs   map[string]error                  // upstream address → last dial error (nil after a success)
	streams    int                               // proxied streams in flight
	zeroCh     chan struct{}                     // closed when streams drops to 0; nil if nobody waits
	passable   map[string]filer                  // listeners a successor can inherit, by handoff key
	unixLns    []*transport.UnixListener         // every Unix socket bound or adopted, for SetUnlinkOnClose
	h2conns    map[*h2drain.Conn]context.Context // proxied pairs that can be drained with GOAWAY → context ended with the pair

	wg sync.WaitGroup // every goroutine the Sidecar starts
}

// inSession is one accepted inbound mux session.
type inSession struct {
	sess   *mux.Session
	peer   identity
	tls    transport.Peer // the verified client certificate, for allow lists
	local  string
	remote string
	start  time.Time
}

// Option changes optional behaviour of New.
type Option interface{ apply(*options) }

type options struct {
	log    *slog.Logger
	muxCfg *mux.Config
	reg    *prometheus.Registry
	inLn   net.Listener
	parent *handoff.Parent
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sets the logger; default discards.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.log = l }) }

// WithMuxConfig sets the tuning of the mux sessions, both inbound and
// pooled outbound; default mux.DefaultConfig with HeaderTimeout,
// KeepAliveInterval and KeepAliveTimeout from the sidecar Config. Its Logger and Metrics are replaced by the sidecar's.
func WithMuxConfig(c mux.Config) Option { return optionFunc(func(o *options) { o.muxCfg = &c }) }

// WithInboundListener serves inbound connections on ln (a TCP listener,
// already bound) instead of binding Config.Listen; the Sidecar closes it
// (if New fails, the caller still owns it). Tests and benchmarks use it to
// pick or wrap the listener.
func WithInboundListener(ln net.Listener) Option {
	return optionFunc(func(o *options) { o.inLn = ln })
}

// WithRegistry sets the Prometheus registry served at /metrics; default a
// new private registry. New registers its collectors on it (and panics on a
// duplicate), so one registry serves one Sidecar.
func WithRegistry(r *prometheus.Registry) Option { return optionFunc(func(o *options) { o.reg = r }) }

// New validates cfg, loads the TLS files (and starts watching them) and
// prepares a Sidecar. It opens no socket; Start does. Call Shutdown or
// Close when done, even without Start.
func New(cfg Config, opts ...Option) (*Sidecar, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	s := &Sidecar{
		cfg: cfg, log: o.log, reg: o.reg, m: newMetrics(o.reg), rm: newDrainMetrics(o.reg),
		h2conns:  map[*h2drain.Conn]context.Context{},
		policies: map[string]*transport.AllowList{}, upFlows: map[string]*flow{},
		done: make(chan struct{}), restartReq: make(chan struct{}, 1), upLns: map[string]net.Listener{},
		sessions: map[*mux.Session]*inSession{}, conns: map[net.Conn]struct{}{},
		peerIDs: map[string]identity{}, dialErrs: map[string]error{},
		givenLn: o.inLn, parent: o.parent, passable: map[string]filer{},
	}
	s.tcfg = transport.DefaultConfig()
	s.tcfg.HandshakeTimeout, s.tcfg.MaxPendingHandshakes = cfg.HandshakeTimeout, cfg.MaxPendingHandshakes
	for _, svc := range cfg.Services {
		p, err := parseAllow(svc.Allow)
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", svc.Name, err)
		}
		s.policies[svc.Name] = p
	}
	for _, u := range cfg.Upstreams {
		s.upFlows[u.Name] = &flow{}
	}
	s.muxCfg = mux.DefaultConfig()
	if o.muxCfg != nil {
		s.muxCfg = *o.muxCfg
	} else {
		s.muxCfg.HeaderTimeout = cfg.HeaderTimeout
		s.muxCfg.KeepAliveInterval = cfg.KeepAliveInterval
		s.muxCfg.KeepAliveTimeout = cfg.KeepAliveTimeout
	}
	s.muxCfg.Logger = s.log
	s.muxCfg.Metrics = muxprom.New(s.reg)
	if s.muxCfg.StreamQuota == nil {
		// One quota for the sidecar's sessions, so many peers (or one
		// peer with many sessions) cannot hold streams without bound (#12.7).
		s.muxCfg.StreamQuota, _ = mux.NewStreamQuota(mux.DefaultStreamQuota)
	}
	if err := s.muxCfg.Validate(); err != nil {
		return nil, err
	}
	certs, err := transport.NewCertSource(cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.CA, transport.CertSourceOptions{Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	s.certs, s.serverTLS = certs, certs.ServerConfig([]string{ALPN})
	if s.muxSrv, err = s.newMuxServer(); err != nil && len(cfg.Services) > 0 {
		certs.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	pcfg := mux.DefaultPoolConfig()
	pcfg.Dial, pcfg.Session, pcfg.DialTimeout = s.dialPeer, s.muxCfg, cfg.DialTimeout
	pool, err := mux.NewPool(pcfg)
	if err != nil {
		certs.Close()
		return nil, err
	}
	s.pool = pool
	return s, nil
}

// Start binds the admin server, the inbound listener (when services are
// configured) and one socket per upstream, then serves in the background.
// ctx bounds only the binding. On error everything bound so far is closed.
func (s *Sidecar) Start(ctx context.Context) error {
	if !s.starting.CompareAndSwap(false, true) {
		return errors.New("podwire/sidecar: Start called twice; make a new Sidecar")
	}
	s.started.Store(time.Now().UnixNano())
	if err := s.bind(ctx); err != nil {
		s.Close()
		return err
	}
	s.m.ready.Set(1)
	s.log.Info("sidecar started", "listen", s.InboundAddr(), "admin", s.AdminAddr(),
		"socket_dir", s.cfg.SocketDir, "upstreams", len(s.cfg.Upstreams), "services", len(s.cfg.Services))
	return nil
}

func (s *Sidecar) bind(ctx context.Context) error {
	if len(s.cfg.Services) > 0 {
		raw := s.givenLn
		if raw == nil {
			var err error
			if raw, err = s.listenTCP(ctx, s.cfg.Listen); err != nil {
				return fmt.Errorf("listen %s: %w (change listen or free the port)", s.cfg.Listen, err)
			}
		}
		ln, err := transport.NewTLSListener(raw, s.serverTLS, transport.TLSListenerOptions{
			Config: s.tcfg, Logger: s.log, OnHandshakeError: s.countHandshakeError,
		})
		if err != nil {
			raw.Close()
			return err
		}
		if !s.setLocked(func() { s.inLn = ln }) {
			ln.Close()
			return ErrClosed
		}
		s.goTracked(func() { s.acceptInbound(ln) })
	}
	for _, u := range s.cfg.Upstreams {
		ln, err := s.listenUnix(ctx, s.socketPath(u.Name))
		if err != nil {
			return fmt.Errorf("upstream %q: %w", u.Name, err)
		}
		if !s.setLocked(func() { s.upLns[u.Name] = ln }) {
			ln.Close()
			return ErrClosed
		}
		s.goTracked(func() { s.acceptOutbound(u, ln) })
	}
	for _, addr := range s.upstreamAddrs() {
		s.goTracked(func() { s.keepWarm(addr) })
	}
	// The admin server comes last, so /healthz answering means every
	// listener is up (the startup probe relies on it).
	adm, err := newAdminServer(ctx, s)
	if err != nil {
		return err
	}
	if !s.setLocked(func() { s.admin = adm }) {
		adm.close()
		return ErrClosed
	}
	s.goTracked(adm.serve)
	return s.startMetrics(ctx)
}

// listenUnix binds a socket the sidecar serves (an upstream's or the
// admin's) with the SDK's socket lifecycle.
// A socket inherited from a predecessor is adopted instead (restart.go).
func (s *Sidecar) listenUnix(ctx context.Context, path string) (*transport.UnixListener, error) {
	ln, err := s.adoptUnix(path)
	if ln == nil && err == nil {
		ln, err = transport.ListenUnix(ctx, path, transport.UnixSocketOptions{Group: s.cfg.SocketGroup,
			AllowSharedDir: s.cfg.AllowSharedSocketDir, Logger: s.log})
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.passable[unixKey(path)] = ln
	s.unixLns = append(s.unixLns, ln)
	s.mu.Unlock()
	return ln, nil
}

// setLocked runs f under mu unless the Sidecar is closed.
func (s *Sidecar) setLocked(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	f()
	return true
}

// goTracked runs f on a goroutine that Close waits for.
func (s *Sidecar) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// socketPath returns <socket dir>/<name>.sock.
func (s *Sidecar) socketPath(name string) string {
	return s.cfg.SocketDir + string(os.PathSeparator) + name + ".sock"
}

// InboundAddr returns the bound inbound TLS address ("" when no services
// are configured or before Start); useful with listen ":0".
func (s *Sidecar) InboundAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inLn == nil {
		return ""
	}
	return s.inLn.Addr().String()
}

// AdminAddr returns the bound admin address, as "host:port" or
// "unix:PATH" ("" before Start).
func (s *Sidecar) AdminAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		return ""
	}
	return s.admin.addr()
}

// Done is closed when the Sidecar has stopped (Shutdown or Close).
func (s *Sidecar) Done() <-chan struct{} { return s.done }

// Shutdown drains: readiness goes false, listeners stop accepting, peers
// get GoAway, and in-flight streams run until they end or ctx is done;
// then everything is closed. It returns ctx's error if streams were cut.
// Safe to call more than once and together with Close.
func (s *Sidecar) Shutdown(ctx context.Context) error {
	start := time.Now()
	s.draining.Store(true)
	s.m.ready.Set(0)
	s.rm.drains.WithLabelValues("started").Inc()
	s.log.Info("sidecar draining")
	s.mu.Lock()
	lns := s.closeListenersLocked()
	sessions := make([]*mux.Session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	s.drainAllH2()
	var wg sync.WaitGroup
	for _, sess := range sessions {
		wg.Go(func() { sess.Shutdown(ctx) })
	}
	wg.Go(func() { s.pool.Shutdown(ctx) })
	streamsDone := make(chan struct{})
	go func() {
		wg.Wait()
		<-s.streamsIdle()
		close(streamsDone)
	}()
	var err error
	select {
	case <-streamsDone:
		s.rm.drains.WithLabelValues("finished").Inc()
	case <-ctx.Done():
		err = fmt.Errorf("podwire/sidecar: drain cut short, streams still open were closed: %w", ctx.Err())
		s.rm.drains.WithLabelValues("cut").Inc()
		s.log.Warn("drain timeout: closing streams still open")
	}
	s.rm.duration.Observe(time.Since(start).Seconds())
	s.Close()
	<-streamsDone
	return err
}

// closeListenersLocked detaches the inbound and upstream listeners (the
// admin server stays up for /healthz and /metrics) and returns them.
func (s *Sidecar) closeListenersLocked() []net.Listener {
	var lns []net.Listener
	if s.inLn != nil {
		lns = append(lns, s.inLn)
	}
	for _, ln := range s.upLns {
		lns = append(lns, ln)
	}
	return lns
}

// Close stops now: listeners, sessions, streams and the admin server. It
// waits for every goroutine the Sidecar started. Safe to call twice.
func (s *Sidecar) Close() error {
	s.draining.Store(true)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	lns := s.closeListenersLocked()
	sessions := make([]*mux.Session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	adm, ms := s.admin, s.metricsSrv
	s.mu.Unlock()
	s.doneOnce.Do(func() { close(s.done) })
	s.cancel()
	for _, ln := range lns {
		ln.Close()
	}
	for _, sess := range sessions {
		sess.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	if s.givenLn != nil {
		s.givenLn.Close() // not adopted if Start was never called or no services
	}
	s.pool.Close()
	if adm != nil {
		adm.close()
	}
	if ms != nil {
		ms.close()
	}
	s.wg.Wait()
	s.certs.Close()
	return nil
}

// trackConn registers c so Close can cut it; it returns false (and closes
// c) when the Sidecar is already closed.
func (s *Sidecar) trackConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Sidecar) untrackConn(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// beginStream counts a proxied stream for the drain; false when closed.
func (s *Sidecar) beginStream() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.streams++
	return true
}

// endStream undoes beginStream.
func (s *Sidecar) endStream() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams--
	if s.streams == 0 && s.zeroCh != nil {
		close(s.zeroCh)
		s.zeroCh = nil
	}
}

// streamsIdle returns a channel closed once no stream is in flight.
func (s *Sidecar) streamsIdle() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if s.zeroCh == nil {
		s.zeroCh = make(chan struct{})
	}
	return s.zeroCh
}
