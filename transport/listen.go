package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/podwire/podwire/internal/rawio"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/podwire/podwire/mux"
)

// ALPN protocol names on the TLS port.
const (
	// ALPNGRPC selects plain gRPC over TLS (any gRPC client).
	ALPNGRPC = "h2"
	// ALPNMux selects a podwire mux session.
	ALPNMux = "podwire-mux/1"
)

// DefaultSocketDir is the socket dir when neither an option nor
// PODWIRE_SOCKET_DIR sets one.
const DefaultSocketDir = "/run/podwire"

// ListenConfig configures Listen.
type ListenConfig struct {
	// Service names the service; required, a DNS label like "inventory".
	// The socket is <SocketDir>/<Service>.sock.
	Service string
	// SocketDir defaults to $PODWIRE_SOCKET_DIR, else /run/podwire.
	SocketDir string
	// SocketGroup optionally owns the 0660 socket (a name or numeric gid).
	SocketGroup string
	// AllowSharedSocketDir accepts a socket dir other users can write (a
	// Kubernetes emptyDir is 0777 but private to its pod); default false,
	// or true when $PODWIRE_ALLOW_SHARED_SOCKET_DIR is "true". See
	// UnixSocketOptions.AllowSharedDir.
	AllowSharedSocketDir bool
	// TLSAddr optionally enables TCP+TLS on "host:port"; ALPN picks h2
	// (gRPC) or podwire-mux/1 (mux session) on the one port.
	TLSAddr string
	// CertFile, KeyFile and CAFile are PEM files, required with TLSAddr; they
	// are watched and reloaded on change without dropping connections.
	CertFile, KeyFile, CAFile string
	// PlainAddr optionally enables plaintext TCP on a loopback "host:port"
	// (tests and local tools); any other host is refused.
	PlainAddr string
	// NoUnix skips the Unix socket (a TCP-only listener).
	NoUnix bool
	// Logger receives lifecycle and rejection logs; nil discards.
	Logger *slog.Logger
	// Config is socket and timeout tuning; the zero value is DefaultConfig().
	Config Config
	// Mux tunes podwire-mux/1 sessions on the TLS port; zero fields take
	// mux's defaults, Logger defaults to the listener's, and StreamQuota to
	// one mux.DefaultStreamQuota shared by the listener's sessions.
	Mux mux.Config
	// OnHandshakeError, when set, is called for each TLS connection closed
	// without a completed handshake (see TLSListenerOptions), e.g.
	// (*HandshakeFailures).Observe.
	OnHandshakeError func(remote net.Addr, err error)
}

// Listener accepts gRPC connections on the service's Unix socket and, when
// configured, on TCP+TLS and loopback TCP; one grpc.Server.Serve serves them
// all. It is a net.Listener, safe for concurrent use.
type Listener struct {
	cfg   ListenConfig
	tcfg  Config
	log   *slog.Logger
	unix  *UnixListener  // nil with NoUnix
	tcp   []net.Listener // TLS and plain listeners
	tlsLn *TLSListener   // the TLS one, also in tcp
	certs *CertSource    // nil without TLSAddr
	mux   *muxServer     // nil without TLSAddr
	conns chan net.Conn  // ready for Accept
	done  chan struct{}  // closed by Close
	wg    sync.WaitGroup // accept loops and per-connection goroutines

	closeOnce sync.Once
	closeErr  error
}

// Listen starts listening as cfg says. ctx bounds the setup (socket probe,
// binds); the Listener lives until Close.
func Listen(ctx context.Context, cfg ListenConfig) (*Listener, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Listener{
		cfg:   cfg,
		tcfg:  cfg.Config.orDefault(),
		log:   loggerOr(cfg.Logger),
		conns: make(chan net.Conn),
		done:  make(chan struct{}),
	}
	if err := l.open(ctx); err != nil {
		l.closeAll()
		return nil, err
	}
	l.start()
	return l, nil
}

// validate checks the fields and fills defaults.
func (cfg *ListenConfig) validate() error {
	if err := mux.ValidateServiceName(cfg.Service); err != nil {
		return configError("Service", "%q: %v", cfg.Service, err)
	}
	if cfg.SocketDir == "" {
		cfg.SocketDir = defaultSocketDir()
	}
	if !cfg.AllowSharedSocketDir {
		cfg.AllowSharedSocketDir = envAllowSharedDir()
	}
	if cfg.NoUnix && cfg.TLSAddr == "" && cfg.PlainAddr == "" {
		return configError("NoUnix", "nothing to listen on: set TLSAddr or PlainAddr, or leave NoUnix false")
	}
	if cfg.TLSAddr != "" && (cfg.CertFile == "" || cfg.KeyFile == "" || cfg.CAFile == "") {
		return &TLSConfigError{What: "CertFile, KeyFile and CAFile are required with TLSAddr " + cfg.TLSAddr}
	}
	if cfg.PlainAddr != "" {
		host, _, err := net.SplitHostPort(cfg.PlainAddr)
		if err != nil {
			return configError("PlainAddr", "%q: %v", cfg.PlainAddr, err)
		}
		if !isLoopbackHost(host) {
			return &InsecureTargetError{Target: cfg.PlainAddr, Reason: "PlainAddr must be a loopback address"}
		}
	}
	return cfg.Config.orDefault().Validate()
}

// open binds every configured socket.
func (l *Listener) open(ctx context.Context) error {
	var err error
	if !l.cfg.NoUnix {
		path := socketPath(l.cfg.SocketDir, l.cfg.Service)
		if l.unix, err = ListenUnix(ctx, path, UnixSocketOptions{Group: l.cfg.SocketGroup,
			ProbeTimeout: l.tcfg.ProbeTimeout, AllowSharedDir: l.cfg.AllowSharedSocketDir, Logger: l.log}); err != nil {
			return err
		}
	}
	if l.cfg.TLSAddr != "" {
		if l.certs, err = newCertSource(l.cfg.CertFile, l.cfg.KeyFile, l.cfg.CAFile, l.tcfg.MinTLSVersion, l.log); err != nil {
			return err
		}
		raw, err := l.tcfg.listenConfig().Listen(ctx, "tcp", l.cfg.TLSAddr)
		if err != nil {
			return fmt.Errorf("podwire/transport: listen TLS on %s: %w", l.cfg.TLSAddr, err)
		}
		if l.tlsLn, err = NewTLSListener(raw, l.certs.ServerConfig(l.alpn()), TLSListenerOptions{Config: l.tcfg, Logger: l.log, OnHandshakeError: l.cfg.OnHandshakeError}); err != nil {
			raw.Close()
			return err
		}
		l.tcp = append(l.tcp, l.tlsLn)
		if l.mux, err = newMuxServer(l, l.cfg.Mux); err != nil {
			return err
		}
	}
	if l.cfg.PlainAddr != "" {
		ln, err := l.tcfg.listenConfig().Listen(ctx, "tcp", l.cfg.PlainAddr)
		if err != nil {
			return fmt.Errorf("podwire/transport: listen plaintext on %s: %w", l.cfg.PlainAddr, err)
		}
		l.tcp = append(l.tcp, ln)
	}
	return nil
}

// start runs one accept loop per socket.
func (l *Listener) start() {
	if l.unix != nil {
		l.goLoop(l.unix, l.handleUnix)
	}
	for _, ln := range l.tcp {
		if ln == net.Listener(l.tlsLn) {
			l.goLoop(ln, l.routeTLS)
		} else {
			l.goLoop(ln, l.handlePlain)
		}
	}
}

// goLoop accepts on ln until Close and passes each conn to handle.
func (l *Listener) goLoop(ln net.Listener, handle func(net.Conn)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		acceptUntil(ln, l.done, l.log, handle)
	}()
}

// acceptUntil accepts on ln and passes each conn to handle until ln is
// closed or done closes; other accept errors (EMFILE, ...) are logged and
// retried after a backoff growing to 1s.
func acceptUntil(ln net.Listener, done <-chan struct{}, log *slog.Logger, handle func(net.Conn)) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if isDone(done) || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			log.Warn("podwire: accept failed, retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
			if !sleepOrDone(backoff, done) {
				return
			}
			continue
		}
		backoff = 0
		handle(c)
	}
}

// isDone reports whether done is closed.
func isDone(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// sleepOrDone waits d or until done closes; it reports false on done.
func sleepOrDone(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// handleUnix reads SO_PEERCRED at accept time and delivers the conn.
func (l *Listener) handleUnix(c net.Conn) {
	cred, err := peerCred(c)
	if err != nil {
		l.log.Warn("podwire: reading peer credentials failed; closing", "err", err)
		c.Close()
		return
	}
	l.deliver(newServerConn(c, unixAuthInfo(cred, c.RemoteAddr()), l.tcfg.FirstByteTimeout))
}

// handlePlain delivers a loopback plaintext conn.
func (l *Listener) handlePlain(c net.Conn) {
	_ = l.tcfg.tuneTCP(c)
	c = rawio.Wrap(c)
	l.deliver(newServerConn(c, tcpAuthInfo(c.RemoteAddr()), l.tcfg.FirstByteTimeout))
}

// deliver hands c to Accept, or closes it if the Listener closes first.
func (l *Listener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// closed reports whether Close has been called.
func (l *Listener) closed() bool { return isDone(l.done) }

// Accept waits for the next connection on any of the sockets; after Close
// it returns an error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, ErrListenerClosed
	}
}

// Addr returns the Unix socket address, or the first TCP address with NoUnix.
func (l *Listener) Addr() net.Addr {
	if l.unix != nil {
		return l.unix.Addr()
	}
	return l.tcp[0].Addr()
}

// SocketPath returns the Unix socket path ("" with NoUnix).
func (l *Listener) SocketPath() string {
	if l.unix == nil {
		return ""
	}
	return l.unix.Path()
}

// TLSAddr returns the bound TLS address (useful with port 0), or nil.
func (l *Listener) TLSAddr() net.Addr {
	if l.tlsLn == nil {
		return nil
	}
	return l.tlsLn.Addr()
}

// PlainAddr returns the bound loopback plaintext address, or nil.
func (l *Listener) PlainAddr() net.Addr {
	for _, ln := range l.tcp {
		if ln != net.Listener(l.tlsLn) {
			return ln.Addr()
		}
	}
	return nil
}

// Close stops accepting, closes handshakes in progress, removes the socket
// file and waits for its accept goroutines. Connections already returned by
// Accept belong to the caller (grpc.Server.Stop closes them); mux sessions
// get a GoAway and close when their last stream closes, so a gRPC
// GracefulStop drains them too (Shutdown waits for that). Safe to call more
// than once; later calls return the first result.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.closeAll()
		l.wg.Wait()
	})
	return l.closeErr
}

// Shutdown closes the Listener and waits until its mux sessions have
// drained (their streams closed by the gRPC server) or ctx ends, when it
// closes them. Call it after grpc.Server.Stop or GracefulStop.
func (l *Listener) Shutdown(ctx context.Context) error {
	err := l.Close()
	if l.mux != nil {
		if werr := l.mux.wait(ctx); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	return err
}

// closeAll closes every socket (the TLS one with its handshakes in
// progress) and the cert watcher.
func (l *Listener) closeAll() error {
	var errs []error
	if l.unix != nil {
		errs = append(errs, l.unix.Close())
	}
	for _, ln := range l.tcp {
		errs = append(errs, ln.Close())
	}
	if l.mux != nil {
		l.mux.close()
	}
	if l.certs != nil {
		errs = append(errs, l.certs.Close())
	}
	return ignoreClosed(errors.Join(errs...))
}

// ignoreClosed drops net.ErrClosed from a close result.
func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// routeTLS routes a handshaken TLS conn by ALPN: h2 to Accept, podwire-mux/1
// to the mux server.
func (l *Listener) routeTLS(c net.Conn) {
	tc := c.(*tls.Conn)
	switch proto := tc.ConnectionState().NegotiatedProtocol; proto {
	case ALPNGRPC:
		ai, err := tlsAuthInfo(KindTLS, tc, tc.RemoteAddr())
		if err != nil {
			l.log.Warn("podwire: TLS connection without identity; closing", "remote", tc.RemoteAddr().String(), "err", err)
			tc.Close()
			return
		}
		l.deliver(&authConn{Conn: newH2Guard(tc, l.log), ai: ai})
	case ALPNMux:
		l.mux.start(tc)
	default:
		l.log.Info("podwire: TLS client offered no known ALPN protocol; closing",
			"remote", tc.RemoteAddr().String(), "alpn", proto, "want", l.alpn())
		tc.Close()
	}
}

// discardLogger is the logger of every component given none; one value,
// so configurations without a logger share client cert sources.
var discardLogger = slog.New(slog.DiscardHandler)

// loggerOr returns l, or a logger that discards.
func loggerOr(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return discardLogger
}

// defaultSocketDir is $PODWIRE_SOCKET_DIR or /run/podwire.
func defaultSocketDir() string {
	if d := os.Getenv("PODWIRE_SOCKET_DIR"); d != "" {
		return d
	}
	return DefaultSocketDir
}
