package transport

import (
	"context"
	"crypto/tls"
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
	// handshake failed, and for each one closed at once because
	// MaxPendingHandshakes handshakes were in progress (then err matches
	// ErrTooManyHandshakes). It runs on the listener's goroutines and must
	// not block; the sidecar counts refusals with it.
	OnHandshakeError func(remote net.Addr, err error)
}

// TLSListener accepts TCP connections from an inner listener and runs
// each server TLS handshake on its own goroutine under HandshakeTimeout,
// so a slow or silent client never delays another. At most
// MaxPendingHandshakes handshakes run at once: a connection accepted
// beyond that is closed immediately (counted in Rejected and in
// podwire_transport_handshakes_rejected_total), which bounds the
// goroutines and memory a flood of silent connections can take. Accept
// returns only connections whose handshake completed, as *tls.Conn.
// Listen's TLS port and the sidecar's inbound port are TLSListeners. It is
// a net.Listener, safe for concurrent use.
type TLSListener struct {
	inner net.Listener
	conf  *tls.Config
	cfg   Config
	log   *slog.Logger
	onErr func(net.Addr, error)

	slots    chan struct{}  // one token per handshake in progress
	conns    chan *tls.Conn // handshaken, ready for Accept
	done     chan struct{}  // closed by Close
	stopped  chan struct{}  // closed when the accept loop ends
	loopErr  error          // why the accept loop ended; written before stopped closes
	rejected atomic.Uint64
	wg       sync.WaitGroup // the accept loop and handshake goroutines

	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex            // guards inflight
	inflight map[net.Conn]struct{} // raw conns in their handshake, closed by Close
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
		slots:    make(chan struct{}, cfg.MaxPendingHandshakes),
		conns:    make(chan *tls.Conn),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		inflight: make(map[net.Conn]struct{}),
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

// start takes a handshake slot for raw and handshakes on a new goroutine,
// or closes raw at once when every slot is taken.
func (l *TLSListener) start(raw net.Conn) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.rejected.Add(1)
		handshakesRejected.Inc()
		l.log.Debug("podwire: too many TLS handshakes in progress; closing the new connection",
			"remote", raw.RemoteAddr().String(), "max_pending_handshakes", l.cfg.MaxPendingHandshakes)
		raw.Close()
		if l.onErr != nil {
			l.onErr(raw.RemoteAddr(), ErrTooManyHandshakes)
		}
		return
	}
	_ = l.cfg.tuneTCP(raw)
	if !l.track(raw) {
		<-l.slots
		raw.Close()
		return
	}
	l.wg.Add(1)
	go l.handshake(raw)
}

// handshake runs the server handshake of raw and delivers the result.
func (l *TLSListener) handshake(raw net.Conn) {
	defer l.wg.Done()
	tc := tls.Server(raw, l.conf)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	// From here the conn is handed on (or closed); Close must no longer
	// close it as a handshake in progress, and its slot is free.
	l.untrack(raw)
	<-l.slots
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

// Rejected returns how many connections were closed unhandshaken because
// MaxPendingHandshakes handshakes were in progress.
func (l *TLSListener) Rejected() uint64 { return l.rejected.Load() }

// Close stops accepting, closes the inner listener and every handshake in
// progress, and waits for the listener's goroutines. Connections already
// returned by Accept are the caller's. Safe to call more than once; later
// calls return the first result.
func (l *TLSListener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.inflight {
			c.Close()
		}
		l.mu.Unlock()
		l.closeErr = ignoreClosed(l.inner.Close())
		l.wg.Wait()
	})
	return l.closeErr
}

// track records raw as in its handshake; false if Close has begun.
func (l *TLSListener) track(raw net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if isDone(l.done) {
		return false
	}
	l.inflight[raw] = struct{}{}
	return true
}

// untrack forgets raw once its handshake is over.
func (l *TLSListener) untrack(raw net.Conn) {
	l.mu.Lock()
	delete(l.inflight, raw)
	l.mu.Unlock()
}
