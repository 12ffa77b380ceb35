package transport

import (
	"net"

	"google.golang.org/grpc/mem"
)

// AuthConn is a connection whose peer was identified by the handshake
// that produced it: SO_PEERCRED read when a Unix socket was accepted or
// dialed, the verified TLS state of a TLS connection, or, for a mux
// stream, the TLS state of its session (every stream of a session shares
// the session's *AuthInfo). podwire's listeners, dialers and MuxServer
// return AuthConns, and its gRPC credentials read the identity from them.
type AuthConn interface {
	net.Conn
	// AuthInfo returns the identity established by the handshake; it is
	// immutable and shared, never nil.
	AuthInfo() *AuthInfo
}

// AuthInfoOf returns the identity c carries: its own when c is an
// AuthConn, else that of the connection it wraps when it exposes one with
// a NetConn() net.Conn method (as *tls.Conn does), and so on. A wrapper
// (metrics, tracing) keeps the identity by embedding the AuthConn or by
// offering NetConn. ok is false when no handshake identified the peer.
func AuthInfoOf(c net.Conn) (ai *AuthInfo, ok bool) {
	for c != nil {
		if a, isAuth := c.(AuthConn); isAuth {
			if ai := a.AuthInfo(); ai != nil {
				return ai, true
			}
		}
		u, canUnwrap := c.(interface{ NetConn() net.Conn })
		if !canUnwrap {
			break
		}
		c = u.NetConn()
	}
	return nil, false
}

// authConn attaches the identity of a completed handshake to a
// connection (a TLS conn).
type authConn struct {
	net.Conn
	ai *AuthInfo
}

// AuthInfo returns the identity of the handshake.
func (c *authConn) AuthInfo() *AuthInfo { return c.ai }

// NetConn returns the connection underneath.
func (c *authConn) NetConn() net.Conn { return c.Conn }

// forGRPC hands grpc the connection itself (a *tls.Conn is never read
// underneath; see conn.go).
func (c *authConn) forGRPC() net.Conn { return c.Conn }

// authStream is a mux stream carrying its session's identity. It
// implements ReadOnReady so grpc holds a pooled read buffer only while
// bytes wait (see readyStream).
type authStream struct {
	net.Conn
	ai *AuthInfo
}

// AuthInfo returns the identity of the stream's session.
func (c *authStream) AuthInfo() *AuthInfo { return c.ai }

// NetConn returns the mux stream.
func (c *authStream) NetConn() net.Conn { return c.Conn }

// ReadOnReady implements grpc's readyreader.Reader for mux streams.
func (c *authStream) ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	return readOnReady(c.Conn, bufSize, pool)
}

// forGRPC hands grpc the stream with its ReadOnReady.
func (c *authStream) forGRPC() net.Conn { return c }

// grpcConn is the conn grpc's framer reads from: the bare socket for Unix
// and plaintext TCP conns (so grpc pools their read buffers, see conn.go),
// a stream with ReadOnReady for mux streams, and any other conn as it is.
func grpcConn(c net.Conn) net.Conn {
	if g, ok := c.(interface{ forGRPC() net.Conn }); ok {
		return g.forGRPC()
	}
	return c
}
