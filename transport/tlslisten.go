package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"github.com/podwire/podwire/internal/rawio"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// TLSListenerOptions configures NewTLSListener. The zero value is valid.
type TLSListenerOptions struct {
	// Config supplies HandshakeTimeout, MaxPendingHandshakes and the TCP
	// options (TCP_NODELAY, SO_LINGER) set on each accepted connection;
	// the zero value is DefaultConfig().
	Config Config
	// Logger receives failed handshakes (info) and connections closed
	// over MaxPendingHandshakes (debug); nil discards.
	Logger *slog.Logger
	// OnHandshakeError, when set, is called for each connection whose
	// handshake failed, and for each one closed by the handshake budget
	// (its source's share used, or every slot taken: the new connection or
	// an evicted silent one; then err matches ErrTooManyHandshakes). It runs on the listener's goroutines and must
	// not block; the sidecar counts refusals with it.
	OnHandshakeError func(remote net.Addr, err error)
}

// TLSListener accepts TCP connections from an inner listener and runs
// each server TLS handshake on its own goroutine under HandshakeTimeout,
// so a slow or silent client never delays another. At most
// MaxPendingHandshakes handshakes run at once, shared fairly between
// source addresses (at most MaxPendingHandshakesPerSource each; when all
// are taken, a new connection evicts the oldest silent one of the biggest
// source; a connection silent for FirstByteTimeout is closed; see
// tlsfair.go). A connection refused or evicted by this budget is closed
// unhandshaken (counted in Rejected and in
// podwire_transport_handshakes_rejected_total), which bounds the
// goroutines and memory a flood of silent connections can take, and keeps
// one source from starving the others. Accept
// returns only connections whose handshake completed, as *tls.Conn.
// Listen's TLS port and the sidecar's inbound port are TLSListeners. It is
// a net.Listener, safe for concurrent use.
type TLSListener struct {
	inner net.Listener
	conf  *tls.Config
	cfg   Config
	log   *slog.Logger
	onErr func(net.Addr, error)

	pend     *pendingSet    // handshakes in progress, shared fairly by source (tlsfair.go)
	conns    chan *tls.Conn // handshaken, ready for Accept
	done     chan struct{}  // closed by Close
	stopped  chan struct{}  // closed when the accept loop ends
	loopErr  error          // why the accept loop ended; written before stopped closes
	rejected atomic.Uint64
	wg       sync.WaitGroup // the accept loop and handshake goroutines

	closeOnce sync.Once
	closeErr  error
}

// NewTLSListener starts accepting on inner and handshaking with conf
// (which should require and verify client certificates, as
// CertSource.ServerConfig does). The TLSListener owns inner: Close closes
// it. It fails only when opts.Config is invalid.
func NewTLSListener(inner net.Listener, conf *tls.Config, opts TLSListenerOptions) (*TLSListener, error) {
	cfg := opts.Config.orDefault()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &TLSListener{
		inner: inner, conf: conf, cfg: cfg, log: loggerOr(opts.Logger), onErr: opts.OnHandshakeError,
		pend:    newPendingSet(cfg.MaxPendingHandshakes, cfg.perSource()),
		conns:   make(chan *tls.Conn),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// acceptLoop accepts until Close or until inner fails for good.
func (l *TLSListener) acceptLoop() {
	defer l.wg.Done()
	defer close(l.stopped)
	acceptUntil(l.inner, l.done, l.log, l.start)
	l.loopErr = ErrListenerClosed
}

// start takes a handshake slot for raw (evicting a silent connection of
// the biggest source when all are taken) and handshakes on a new
// goroutine, or closes raw at once when its source holds its share or no
// slot can be freed.
func (l *TLSListener) start(raw net.Conn) {
	_ = l.cfg.tuneTCP(raw)
	raw = rawio.Wrap(raw)
	pc := &pendingConn{raw: raw, src: sourceOf(raw.RemoteAddr())}
	victim, err := l.pend.admit(pc)
	if err != nil {
		if errors.Is(err, ErrTooManyHandshakes) {
			l.refuse(raw, err)
		} else {
			raw.Close()
		}
		return
	}
	if victim != nil {
		victim.evicted.Store(true)
		l.refuse(victim.raw, errHandshakeEvicted) // its handshake goroutine sees the error and exits
	}
	l.wg.Add(1)
	go l.handshake(pc)
}

// refuse counts, closes and reports a connection closed unhandshaken by
// the handshake budget.
func (l *TLSListener) refuse(raw net.Conn, err error) {
	l.rejected.Add(1)
	handshakesRejected.Inc()
	raw.Close()
	l.log.Debug("podwire: TLS handshake budget: closing a pending connection",
		"remote", raw.RemoteAddr().String(), "err", err,
		"max_pending_handshakes", l.cfg.MaxPendingHandshakes, "per_source", l.cfg.perSource())
	if l.onErr != nil {
		l.onErr(raw.RemoteAddr(), err)
	}
}

// handshake runs the server handshake of pc and delivers the result.
func (l *TLSListener) handshake(pc *pendingConn) {
	defer l.wg.Done()
	raw := pc.raw
	tc := tls.Server(newFirstByteConn(pc, min(l.cfg.FirstByteTimeout, l.cfg.HandshakeTimeout)), l.conf)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	// From here the conn is handed on (or closed); Close must no longer
	// close it as a handshake in progress, and its slot is free.
	l.pend.done(pc)
	if err != nil && pc.evicted.Load() {
		return // reported as refused when evicted
	}
	if err != nil {
		l.log.Info("podwire: TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		if l.onErr != nil {
			l.onErr(raw.RemoteAddr(), err)
		}
		return
	}
	select {
	case l.conns <- tc:
	case <-l.done:
		tc.Close()
	}
}

// Accept waits for the next connection whose handshake completed and
// returns it as a *tls.Conn. After Close, or once the inner listener
// failed for good, it returns an error wrapping net.ErrClosed.
func (l *TLSListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, ErrListenerClosed
	case <-l.stopped:
		select {
		case c := <-l.conns:
			return c, nil
		default:
			return nil, l.loopErr
		}
	}
}

// Addr returns the inner listener's address.
func (l *TLSListener) Addr() net.Addr { return l.inner.Addr() }

// Rejected returns how many connections were closed unhandshaken by the
// handshake budget: over their source's MaxPendingHandshakesPerSource, or
// with every slot taken, the new one or an evicted silent one.
func (l *TLSListener) Rejected() uint64 { return l.rejected.Load() }

// Close stops accepting, closes the inner listener and every handshake in
// progress, and waits for the listener's goroutines. Connections already
// returned by Accept are the caller's. Safe to call more than once; later
// calls return the first result.
func (l *TLSListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.pend.close()
		l.closeErr = ignoreClosed(l.inner.Close())
		l.wg.Wait()
	})
	return l.closeErr
}
