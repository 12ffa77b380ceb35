package transport

import (
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/mem"
)

// Why the handshakes hand grpc the bare socket: grpc-go (1.85) gives a
// connection's HTTP/2 framer a pooled read buffer, taken only while bytes
// are being read and returned once they are consumed, when the conn is
// itself a *net.TCPConn or *net.UnixConn (it then reads through
// SyscallConn) or implements ReadOnReady (its internal readyreader.Reader).
// Any other conn, such as a wrapper embedding the socket, gets a private
// 32 KiB bufio.Reader for its whole life: an idle channel then costs that
// much more heap at each end. grpc checks the concrete type, not just for
// syscall.Conn, on purpose: a TLS conn must never be read underneath, so
// *tls.Conn stays on the private buffer, as it does in bare grpc-go.

// serverConn is a connection accepted by a Listener on a Unix socket or
// loopback TCP, an AuthConn carrying the identity read at accept time.
// Until the first bytes arrive it has a read deadline
// (Config.FirstByteTimeout); the first successful Read, or any deadline set
// by the consumer (grpc sets its own), disarms it.
type serverConn struct {
	net.Conn
	ai    *AuthInfo
	armed atomic.Bool // first-byte deadline still ours to clear
}

// newServerConn wraps c with its identity and arms the first-byte deadline.
func newServerConn(c net.Conn, ai *AuthInfo, firstByte time.Duration) *serverConn {
	sc := &serverConn{Conn: c, ai: ai}
	if firstByte > 0 {
		sc.armed.Store(true)
		_ = c.SetReadDeadline(time.Now().Add(firstByte))
	}
	return sc
}

// Read reads and clears the first-byte deadline after the first bytes.
func (c *serverConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.armed.Load() && c.armed.CompareAndSwap(true, false) {
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	return n, err
}

// SetDeadline hands deadline control to the caller.
func (c *serverConn) SetDeadline(t time.Time) error {
	c.armed.Store(false)
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline hands read-deadline control to the caller.
func (c *serverConn) SetReadDeadline(t time.Time) error {
	c.armed.Store(false)
	return c.Conn.SetReadDeadline(t)
}

// AuthInfo returns the identity read at accept time.
func (c *serverConn) AuthInfo() *AuthInfo { return c.ai }

// NetConn returns the accepted socket.
func (c *serverConn) NetConn() net.Conn { return c.Conn }

// forGRPC returns the socket under c once the first-byte deadline is no
// longer ours (grpc sets its own connection deadline before the
// handshake), so grpc can pool its read buffer; while the deadline is
// still armed it returns c, whose Read clears it.
func (c *serverConn) forGRPC() net.Conn {
	if c.armed.Load() {
		return c
	}
	return c.Conn
}

// clientConn is a connection made by podwire's dialer. Over a Unix socket
// (identity from SO_PEERCRED at dial) and loopback TCP (no identity) it is
// an AuthConn at once; over TLS ai is nil and the client credentials run
// the handshake that identifies the server.
type clientConn struct {
	net.Conn
	ai         *AuthInfo // nil until a handshake identified the peer
	serverName string    // tls: name to verify, "" for the authority's host
}

// AuthInfo returns the identity read at dial time, or nil for TLS.
func (c *clientConn) AuthInfo() *AuthInfo { return c.ai }

// NetConn returns the dialed socket.
func (c *clientConn) NetConn() net.Conn { return c.Conn }

// forGRPC returns the socket itself for Unix and TCP conns (see above).
func (c *clientConn) forGRPC() net.Conn {
	if c.ai != nil {
		return c.Conn
	}
	return c
}

// readOnReady (for mux streams, see authStream) waits until the mux stream c has bytes, then takes a buffer
// of bufSize from pool and reads into it. A zero-length Read on a mux
// stream blocks until data is buffered (or the stream ends) and consumes
// nothing, so the buffer is only taken once the read that follows will not
// block; on a conn whose empty Read returns at once it degrades to a plain
// blocking read into the pooled buffer, still correct. Callers own *b and
// return it to pool; on error nothing is held.
func readOnReady(c net.Conn, bufSize int, pool mem.BufferPool) (b *[]byte, n int, err error) {
	if _, err := c.Read(nil); err != nil {
		return nil, 0, err
	}
	b = pool.Get(bufSize)
	n, err = c.Read(*b)
	if n == 0 {
		pool.Put(b)
		return nil, 0, err
	}
	return b, n, err
}
