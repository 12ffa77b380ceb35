package mux

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// stream is the net.Conn of one yamux stream, as returned by Open, Accept
// and DialService. On top of yamux it
//   - honours deadlines already in the past (yamux would still read
//     buffered data or queue a write), as net.Conn requires;
//   - makes Close unblock a pending Read (yamux only half-closes);
//   - reports a dead session as ErrSessionClosed instead of a bare EOF or
//     "stream closed", so callers know to retry;
//   - keeps the session's stream counts for limits, Shutdown and metrics.
//
// All methods are safe for concurrent use.
type stream struct {
	ys    *yamux.Stream
	sess  *Session
	dir   Direction
	quota bool // took a share of Config.StreamQuota (see Session.quotaHeld)

	closed    atomic.Bool
	closeOnce sync.Once
	rdl, wdl  atomic.Int64 // read/write deadline, unix nanos; 0 = none
}

var pastDeadline = time.Unix(1, 0)

// newStream wraps ys and counts it as open.
func (s *Session) newStream(ys *yamux.Stream, dir Direction) *stream {
	return s.newStreamReserved(ys, dir, false)
}

// newStreamReserved is newStream that also consumes a Pool reservation, in
// the same critical section so the session's load never counts it twice.
func (s *Session) newStreamReserved(ys *yamux.Stream, dir Direction, reserved bool) *stream {
	s.mu.Lock()
	if reserved {
		s.reserved--
	}
	if dir == DirInbound {
		s.inbound++
	} else {
		s.outbound++
	}
	s.mu.Unlock()
	s.metrics.StreamOpened(dir)
	return &stream{ys: ys, sess: s, dir: dir}
}

// Session returns the session carrying the stream, for example to reach
// Session().Conn() for the peer's TLS identity.
func (c *stream) Session() *Session { return c.sess }

// StreamID returns the yamux stream id (odd: opened by the client side).
func (c *stream) StreamID() uint32 { return c.ys.StreamID() }

// Read reads stream data. A zero-length Read waits until data is buffered
// (or the stream ends, or the deadline passes) and consumes nothing, so a
// caller can wait for data before taking a buffer (grpc's ReadOnReady).
func (c *stream) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if expired(&c.rdl) {
		return 0, timeoutError{}
	}
	n, err := c.ys.Read(p)
	if err != nil {
		err = c.mapErr(err, "read")
	}
	return n, err
}

// Write writes stream data; it blocks while the peer's window is full.
func (c *stream) Write(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if expired(&c.wdl) {
		return 0, timeoutError{}
	}
	n, err := c.ys.Write(p)
	if err != nil {
		err = c.mapErr(err, "write")
	}
	return n, err
}

func expired(dl *atomic.Int64) bool {
	d := dl.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

// mapErr turns yamux's errors into ones that say what happened.
func (c *stream) mapErr(err error, op string) error {
	switch {
	case c.closed.Load():
		return net.ErrClosed
	case errors.Is(err, yamux.ErrTimeout):
		return timeoutError{}
	case c.sess.ys.IsClosed() && (err == io.EOF || errors.Is(err, yamux.ErrStreamClosed) ||
		errors.Is(err, yamux.ErrSessionShutdown) || errors.Is(err, yamux.ErrConnectionWriteTimeout)):
		return fmt.Errorf("podwire/mux: stream %s: %w", op, c.sess.closedErr())
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, yamux.ErrConnectionReset):
		return fmt.Errorf("podwire/mux: stream %s: %w", op, ErrStreamReset)
	case errors.Is(err, yamux.ErrStreamClosed):
		return fmt.Errorf("podwire/mux: stream %s after CloseWrite: %w", op, net.ErrClosed)
	}
	return fmt.Errorf("podwire/mux: stream %s: %w", op, err)
}

// CloseWrite half-closes the stream: the peer reads EOF after the data
// already written, and this side can still read. Like (*net.TCPConn).CloseWrite.
func (c *stream) CloseWrite() error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	return c.ys.Close()
}

// Close closes the stream in both directions and unblocks pending Read and
// Write calls. Idempotent.
func (c *stream) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.ys.Close()
		// yamux's Close only half-closes; a past deadline wakes readers,
		// which then see closed and return net.ErrClosed.
		c.ys.SetDeadline(pastDeadline)
		c.ys.Shrink()
		c.sess.streamDone(c.dir, c.quota)
	})
	return nil
}

// LocalAddr returns the underlying connection's local address.
func (c *stream) LocalAddr() net.Addr { return c.sess.conn.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *stream) RemoteAddr() net.Addr { return c.sess.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *stream) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for pending and future Reads.
func (c *stream) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	c.rdl.Store(unixNano(t))
	return c.ys.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for pending and future Writes.
func (c *stream) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	c.wdl.Store(unixNano(t))
	return c.ys.SetWriteDeadline(t)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// acceptLoop takes every stream yamux accepts (which acknowledges it to the
// opener at once) and applies our bounds: MaxInboundStreams and the accept
// backlog. Excess streams are refused with RESOURCE_EXHAUSTED. It runs
// until the session dies, then does the session's death bookkeeping.
func (s *Session) acceptLoop() {
	defer s.wg.Done()
	defer s.metrics.SessionClosed(s.role)
	for {
		ys, err := s.ys.AcceptStream()
		if err != nil {
			if !s.ys.IsClosed() {
				// AcceptStream failed to acknowledge one stream (send
				// timeout); the session is still alive.
				continue
			}
			s.log.Debug("session closed", "err", s.closedErr(), "age", time.Since(s.created))
			s.releaseQuota()
			return
		}
		s.mu.Lock()
		full := s.inbound >= s.cfg.MaxInboundStreams
		s.mu.Unlock()
		switch {
		case s.isDraining():
			// A stream the peer opened before our GoAway reached it:
			// queueing it would hold Shutdown open for a stream nobody
			// will Accept.
			s.refuse(ys, codeUnavailable, "session draining; open the stream on another session")
		case full:
			s.refuse(ys, codeResourceExhausted, "too many concurrent streams")
		case len(s.acceptCh) == cap(s.acceptCh):
			s.refuse(ys, codeResourceExhausted, "accept backlog full")
		case s.cfg.StreamQuota != nil && !s.cfg.StreamQuota.acquire():
			s.refuse(ys, codeResourceExhausted, fmt.Sprintf("process-wide stream quota (%d across sessions) in use", s.cfg.StreamQuota.Max()))
		default:
			// Never blocks: this loop is the only sender and the
			// channel has room.
			st := s.newStream(ys, DirInbound)
			if s.cfg.StreamQuota != nil {
				st.quota = true
				s.mu.Lock()
				s.quotaHeld++
				s.mu.Unlock()
			}
			s.acceptCh <- st
		}
	}
}

// refuse answers an inbound stream with code (RESOURCE_EXHAUSTED for a
// bound, UNAVAILABLE while draining) and closes it,
// in a tracked goroutine so a slow peer cannot stall the accept loop. When
// AcceptBacklog refusals are already in flight the stream is just closed
// (the opener reads EOF instead of the reply).
func (s *Session) refuse(ys *yamux.Stream, c uint32, reason string) {
	s.metrics.StreamRefused(DirInbound, codeName(c))
	if c == codeResourceExhausted {
		s.noteRefusal()
	}
	s.log.Debug("refused inbound stream", "reason", reason, "max_inbound", s.cfg.MaxInboundStreams, "backlog", s.cfg.AcceptBacklog)
	select {
	case s.refusing <- struct{}{}:
	default:
		ys.Close()
		return
	}
	started := s.goTracked(func() {
		defer func() { <-s.refusing }()
		ys.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		msg := fmt.Sprintf("podwire/mux: %s on the accepting side (max %d inbound, backlog %d)", reason, s.cfg.MaxInboundStreams, s.cfg.AcceptBacklog)
		if err := WriteReply(ys, &wirev1.StreamReply{Code: c, Message: truncate(msg, maxReplyMessage)}); err != nil {
			s.log.Debug("write refusal failed", "err", err)
		}
		ys.Close()
	})
	if !started {
		<-s.refusing
		ys.Close()
	}
}
