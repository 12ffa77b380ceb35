package transport

import (
	"net"
	"sync/atomic"
	"time"
)

// serverConn is a connection accepted by a Listener, carrying the identity
// read at accept time. Until the first bytes arrive it has a read deadline
// (Config.FirstByteTimeout); the first successful Read, or any deadline set
// by the consumer (grpc sets its own), disarms it.
type serverConn struct {
	net.Conn
	kind  Kind
	cred  ucred
	armed atomic.Bool // first-byte deadline still ours to clear
}

// newServerConn wraps c and arms the first-byte deadline.
func newServerConn(c net.Conn, kind Kind, cred ucred, firstByte time.Duration) *serverConn {
	sc := &serverConn{Conn: c, kind: kind, cred: cred}
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

// clientConn is a connection made by podwire's dialer, tagged with the
// transport it was dialed for so the client credentials know what to do.
type clientConn struct {
	net.Conn
	kind       Kind
	cred       ucred  // unix: the server process
	serverName string // tls: name to verify
}
