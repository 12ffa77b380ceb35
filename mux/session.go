package mux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

// Session is one yamux session over one connection, carrying many streams
// in both directions. It is a net.Listener: Accept yields the streams the
// peer opens (so a gRPC server can Serve on it), and Open starts streams to
// the peer. All methods are safe for concurrent use.
type Session struct {
	ys      *yamux.Session
	conn    net.Conn // as given to Client/Server
	wire    *wireConn
	cfg     Config
	log     *slog.Logger
	metrics Metrics
	role    Role
	created time.Time

	refusals  refusalGuard  // MaxRefusalsPerSecond
	acceptCh  chan *stream  // our accept backlog, cap cfg.AcceptBacklog
	refusing  chan struct{} // semaphore bounding concurrent refusals
	rtt       atomic.Int64  // last ping RTT in nanoseconds
	dead      atomic.Pointer[error]
	closeOnce sync.Once

	// mu guards closing, draining, the stream counts (outbound, inbound,
	// reserved), idleSince, drained, quotaHeld and quotaGone, and makes
	// wg.Add safe against Close's wg.Wait.
	mu        sync.Mutex
	closing   bool          // Close started: no new tracked goroutines
	draining  bool          // Shutdown or remote GoAway: no new opens
	outbound  int           // open outbound streams (not yet closed here)
	inbound   int           // open inbound streams, including the backlog
	reserved  int           // Pool opens picked for this session, not yet counted
	idleSince time.Time     // when the stream count last dropped to zero
	drained   chan struct{} // closed when the count reaches zero during Shutdown
	// quotaHeld is the StreamQuota shares this session's open inbound
	// streams hold; once the session is dead they are returned at once
	// (quotaGone), since a stream the app never closes must not keep one.
	quotaHeld int
	quotaGone bool

	wg sync.WaitGroup // accept loop, keepalive, abandoned opens, refusals
}

// Client starts the client side of a session on conn (the side that dialed;
// it opens odd stream ids) with cfg (zero fields take their defaults). The
// session owns conn and closes it.
func Client(conn net.Conn, cfg Config) (*Session, error) {
	return newSession(conn, cfg, RoleClient)
}

// Server starts the server side of a session on conn (the side that
// accepted; it opens even stream ids) with cfg (zero fields take their
// defaults). The session owns conn and closes it.
func Server(conn net.Conn, cfg Config) (*Session, error) {
	return newSession(conn, cfg, RoleServer)
}

func newSession(conn net.Conn, cfg Config, role Role) (*Session, error) {
	if conn == nil {
		return nil, fmt.Errorf("%w: nil conn", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Session{
		conn: conn, cfg: cfg, role: role, created: time.Now(),
		log:      cfg.Logger,
		metrics:  cfg.Metrics,
		acceptCh: make(chan *stream, cfg.AcceptBacklog),
		refusing: make(chan struct{}, cfg.AcceptBacklog),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	s.log = s.log.With("component", "podwire/mux", "role", string(role), "remote", conn.RemoteAddr().String())
	s.idleSince = s.created
	s.refusals.bucket = newTokenBucket(cfg.MaxRefusalsPerSecond, s.created)
	s.wire = newWireConn(conn, cfg.WriteTimeout, s.metrics)
	s.wire.pings = newPingGuard(cfg.MaxPingsPerSecond)
	s.wire.onFlood = func() { s.kill(KillPingFlood, ErrPingFlood) }
	start := yamux.Server
	if role == RoleClient {
		start = yamux.Client
	}
	ys, err := start(s.wire, cfg.yamuxConfig(s.log))
	if err != nil {
		return nil, fmt.Errorf("%w: yamux: %v", ErrInvalidConfig, err)
	}
	s.ys = ys
	s.metrics.SessionOpened(role)
	s.wg.Add(2)
	go s.acceptLoop()
	go s.keepalive()
	return s, nil
}

// Addr returns the local address of the underlying connection.
func (s *Session) Addr() net.Addr { return s.conn.LocalAddr() }

// Conn returns the underlying connection as given to Client or Server, for
// example a *tls.Conn to read the peer's certificates. Do not read from or
// write to it.
func (s *Session) Conn() net.Conn { return s.conn }

// RTT returns the round-trip time of the last keepalive ping, or 0 before
// the first pong.
func (s *Session) RTT() time.Duration { return time.Duration(s.rtt.Load()) }

// NumStreams returns the streams open on this side: opened or accepted (or
// waiting in the accept backlog) and not yet closed by this side.
func (s *Session) NumStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inbound + s.outbound
}

// Done returns a channel closed when the session is dead (closed by either
// side, its connection failed, or a keepalive timed out).
func (s *Session) Done() <-chan struct{} { return s.ys.CloseChan() }

// Err returns why the session died, or nil while it is alive. The error
// matches ErrSessionClosed.
func (s *Session) Err() error {
	if !s.ys.IsClosed() {
		return nil
	}
	return s.closedErr()
}

func (s *Session) closedErr() error {
	if p := s.dead.Load(); p != nil {
		return &closedError{cause: *p}
	}
	if p := s.wire.readErr.Load(); p != nil {
		return &closedError{cause: fmt.Errorf("connection failed: %w", *p)}
	}
	return &closedError{}
}

// die records why the session died (the first reason wins) and closes the
// yamux session without waiting for our goroutines (callers may be one).
func (s *Session) die(err error) {
	s.dead.CompareAndSwap(nil, &err)
	s.wire.abort.Store(true) // no point flushing to a dead or closing peer
	s.ys.Close()
}

// Open starts a stream to the peer. ctx bounds the wait for a free slot in
// the un-acknowledged-open window (AcceptBacklog) and for the frame to be
// queued; if ctx ends first only this open fails (the session is untouched)
// and a stream that yamux opens afterwards is closed at once. Open does not
// wait for the peer to accept; DialService does (it waits for the reply).
func (s *Session) Open(ctx context.Context) (net.Conn, error) {
	return s.open(ctx, false)
}

// open is Open; reserved says the caller holds a reservation (tryReserve),
// which the new stream takes over or which is released on failure.
func (s *Session) open(ctx context.Context, reserved bool) (net.Conn, error) {
	ok := false
	if reserved {
		defer func() {
			if !ok {
				s.unreserve()
			}
		}()
	}
	if err := s.openable(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("podwire/mux: open stream: %w", err)
	}
	var (
		ys  *yamux.Stream
		err error
	)
	if ctx.Done() == nil {
		ys, err = s.ys.OpenStream()
	} else {
		ys, err = s.openAsync(ctx)
	}
	if err != nil {
		return nil, s.mapOpenErr(err)
	}
	ok = true
	return s.newStreamReserved(ys, DirOutbound, reserved), nil
}

// tryReserve reserves room for one stream if the session has fewer than max
// streams (counting reservations); it reports the load before reserving.
func (s *Session) tryReserve(max int) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	load := s.inbound + s.outbound + s.reserved
	if load >= max || s.draining {
		return load, false
	}
	s.reserved++
	return load, true
}

func (s *Session) load() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inbound + s.outbound + s.reserved
}

func (s *Session) unreserve() {
	s.mu.Lock()
	s.reserved--
	s.mu.Unlock()
}

func (s *Session) openable() error {
	if s.ys.IsClosed() {
		return s.closedErr()
	}
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		return fmt.Errorf("podwire/mux: open stream: %w", ErrDraining)
	}
	return nil
}

func (s *Session) mapOpenErr(err error) error {
	switch {
	case errors.Is(err, yamux.ErrRemoteGoAway):
		s.mu.Lock()
		s.draining = true
		s.mu.Unlock()
		return fmt.Errorf("podwire/mux: open stream: peer sent GoAway: %w", ErrDraining)
	case errors.Is(err, yamux.ErrSessionShutdown):
		return s.closedErr()
	case errors.Is(err, yamux.ErrStreamsExhausted):
		s.mu.Lock()
		s.draining = true
		s.mu.Unlock()
		return fmt.Errorf("podwire/mux: open stream: stream ids exhausted: %w", ErrDraining)
	}
	return fmt.Errorf("podwire/mux: open stream: %w", err)
}

// openCall is one Open racing its context. mu guards abandoned and the
// result; done is closed when the result is set.
type openCall struct {
	mu        sync.Mutex
	abandoned bool
	ys        *yamux.Stream
	err       error
	done      chan struct{}
}

// openAsync runs yamux's OpenStream (which takes no context and may block
// on the SYN window or the send queue) in a tracked goroutine. If ctx ends
// first the call is abandoned and the goroutine closes whatever stream it
// eventually gets.
func (s *Session) openAsync(ctx context.Context) (*yamux.Stream, error) {
	call := &openCall{done: make(chan struct{})}
	started := s.goTracked(func() {
		ys, err := s.ys.OpenStream()
		call.mu.Lock()
		defer call.mu.Unlock()
		if call.abandoned {
			if ys != nil {
				ys.Close()
			}
			return
		}
		call.ys, call.err = ys, err
		close(call.done)
	})
	if !started {
		return nil, yamux.ErrSessionShutdown
	}
	select {
	case <-call.done:
		return call.ys, call.err
	case <-ctx.Done():
	}
	call.mu.Lock()
	defer call.mu.Unlock()
	select {
	case <-call.done: // finished while we were giving up: keep it
		return call.ys, call.err
	default:
	}
	call.abandoned = true
	return nil, fmt.Errorf("podwire/mux: open stream (the session is still usable): %w", ctx.Err())
}

// goTracked runs f in a goroutine that Close waits for, unless Close has
// started; it reports whether f was started.
func (s *Session) goTracked(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// Accept waits for the next stream the peer opens. Once the session is dead
// it returns an error matching ErrSessionClosed and net.ErrClosed.
func (s *Session) Accept() (net.Conn, error) {
	select {
	case st := <-s.acceptCh:
		return st, nil
	case <-s.ys.CloseChan():
		return nil, s.closedErr()
	}
}

// Close closes the session and every stream on it now, closes the
// underlying connection and waits for the session's goroutines. Streams
// fail with ErrSessionClosed. Idempotent.
func (s *Session) Close() error {
	s.closeWith(ErrSessionClosed)
	return nil
}

// closeWith closes the session; a nil reason (Shutdown) lets queued frames
// be flushed first, a non-nil one drops them and is recorded as the cause.
func (s *Session) closeWith(reason error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		if reason != nil {
			s.die(reason)
		} else {
			s.dead.CompareAndSwap(nil, &ErrSessionClosed)
			s.ys.Close()
		}
		s.wg.Wait()
		// Streams still in our backlog were never handed out: release them.
		for {
			select {
			case st := <-s.acceptCh:
				st.Close()
				continue
			default:
			}
			break
		}
	})
}

// Shutdown drains the session: it sends GoAway (the peer opens no new
// streams; its Open fails with ErrDraining), refuses new local opens, waits
// until every stream on this side is closed or ctx ends, then closes. It
// returns ctx's error if streams were cut off. Streams still waiting in the
// accept backlog count as open, so keep calling Accept (and closing what
// it returns) while draining. Idempotent; safe with Close.
func (s *Session) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	var wait chan struct{}
	if s.inbound+s.outbound > 0 && !s.closing {
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		wait = s.drained
	}
	s.mu.Unlock()
	// yamux's GoAway waits until the frame is written (up to WriteTimeout);
	// send it in the background so ctx bounds Shutdown.
	s.goTracked(func() {
		if err := s.ys.GoAway(); err != nil && !errors.Is(err, yamux.ErrSessionShutdown) {
			s.log.Debug("send GoAway failed", "err", err)
		}
	})
	var err error
	if wait != nil {
		select {
		case <-wait:
		case <-s.ys.CloseChan():
		case <-ctx.Done():
			err = fmt.Errorf("podwire/mux: shutdown cut off %d open streams: %w", s.NumStreams(), ctx.Err())
		}
	}
	// Close without abort: frames already queued (final FINs) are flushed,
	// unless ctx ends first (a peer that stopped reading cannot hold
	// Shutdown past its deadline).
	if err != nil {
		s.Close()
		return err
	}
	stop := context.AfterFunc(ctx, s.wire.abortNow)
	defer stop()
	s.closeWith(nil)
	return nil
}

// streamDone is called once per stream when this side closes it; quota
// says the stream took a share of Config.StreamQuota.
func (s *Session) streamDone(dir Direction, quota bool) {
	s.mu.Lock()
	if quota && !s.quotaGone {
		s.quotaHeld--
		s.cfg.StreamQuota.release()
	}
	if dir == DirInbound {
		s.inbound--
	} else {
		s.outbound--
	}
	if s.inbound+s.outbound == 0 {
		s.idleSince = time.Now()
		if s.drained != nil {
			close(s.drained)
			s.drained = nil
		}
	}
	s.mu.Unlock()
	s.metrics.StreamClosed(dir)
}

// releaseQuota returns the StreamQuota shares of the session's streams
// once the session is dead.
func (s *Session) releaseQuota() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quotaGone {
		return
	}
	s.quotaGone = true
	for ; s.quotaHeld > 0; s.quotaHeld-- {
		s.cfg.StreamQuota.release()
	}
}

// idle reports whether the session has no streams and since when.
func (s *Session) idle() (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inbound+s.outbound+s.reserved == 0, s.idleSince
}

// isDraining reports whether the session takes no new streams.
func (s *Session) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}
