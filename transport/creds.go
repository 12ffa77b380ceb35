package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc/credentials"

	"github.com/podwire/podwire/mux"
)

// securityProtocol is what podwire's credentials report in ProtocolInfo.
const securityProtocol = "podwire"

// serverCreds are the grpc TransportCredentials of a podwire server: they
// attach an *AuthInfo to every connection the Listener accepted (identity
// was established at accept or TLS handshake time).
type serverCreds struct{}

// ServerHandshake records the identity of c.
func (serverCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	ai, err := serverAuthInfo(c)
	if err != nil {
		return nil, nil, err
	}
	return grpcConn(c), ai, nil
}

// grpcConn is the conn grpc's framer reads from: the bare socket for Unix
// and plaintext TCP conns and a readyStream for mux streams, so grpc pools
// their read buffers (see conn.go); TLS conns as they are.
func grpcConn(c net.Conn) net.Conn {
	switch x := c.(type) {
	case *serverConn:
		return x.forGRPC()
	case *clientConn:
		if x.kind == KindUnix || x.kind == KindTCP {
			return x.Conn
		}
	case *pooledConn, readyStream:
		return c
	case interface{ Session() *mux.Session }:
		return readyStream{Conn: c}
	}
	return c
}

// serverAuthInfo maps each kind of accepted conn to its identity.
func serverAuthInfo(c net.Conn) (*AuthInfo, error) {
	switch x := c.(type) {
	case *serverConn:
		if x.kind == KindUnix {
			return unixAuthInfo(x.cred, x.RemoteAddr()), nil
		}
		return tcpAuthInfo(x.RemoteAddr()), nil
	case *tls.Conn:
		return tlsAuthInfo(KindTLS, x, x.RemoteAddr())
	case *h2Guard:
		return tlsAuthInfo(KindTLS, x.Conn, x.RemoteAddr())
	case *net.UnixConn:
		cred, err := peerCred(x)
		if err != nil {
			return nil, err
		}
		return unixAuthInfo(cred, x.RemoteAddr()), nil
	}
	if ai, ok, err := muxAuthInfo(c); ok {
		return ai, err
	}
	return tcpAuthInfo(c.RemoteAddr()), nil
}

// unixAuthInfo is the identity of a Unix socket peer.
func unixAuthInfo(cred ucred, addr net.Addr) *AuthInfo {
	return &AuthInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		Peer:           Peer{Transport: KindUnix, UID: cred.uid, GID: cred.gid, PID: cred.pid, Addr: addr},
	}
}

// tcpAuthInfo is the (absent) identity of a plaintext TCP peer.
func tcpAuthInfo(addr net.Addr) *AuthInfo {
	return &AuthInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity},
		Peer:           Peer{Transport: KindTCP, UID: -1, GID: -1, PID: -1, Addr: addr},
	}
}

// tlsAuthInfo is the identity of a TLS peer whose handshake is complete.
func tlsAuthInfo(kind Kind, tc *tls.Conn, addr net.Addr) (*AuthInfo, error) {
	cs := tc.ConnectionState()
	if !cs.HandshakeComplete {
		return nil, errors.New("podwire/transport: TLS connection without a completed handshake; serve a transport.Listener")
	}
	return &AuthInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		Peer:           PeerOfTLS(kind, &cs, addr),
		TLS:            &cs,
	}, nil
}

// ClientHandshake is not used on a server.
func (serverCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("podwire/transport: server credentials used by a client; use transport.Dial")
}

// Info describes the credentials.
func (serverCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: securityProtocol}
}

// Clone returns the (stateless) credentials.
func (c serverCreds) Clone() credentials.TransportCredentials { return c }

// OverrideServerName does nothing; deprecated in grpc.
func (serverCreds) OverrideServerName(string) error { return nil }

// clientCreds are the grpc TransportCredentials of a podwire client: they
// finish the TLS handshake where one is needed and attach an *AuthInfo.
type clientCreds struct {
	cfg *dialConfig
}

// ClientHandshake secures and identifies a conn from podwire's dialer (or
// grpc's default dialer, for grpc.NewClient with the podwire resolver).
func (c clientCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	switch x := raw.(type) {
	case *clientConn:
		switch x.kind {
		case KindUnix:
			return grpcConn(x), unixAuthInfo(x.cred, x.RemoteAddr()), nil
		case KindTCP:
			return grpcConn(x), tcpAuthInfo(x.RemoteAddr()), nil
		case KindTLS:
			name := x.serverName
			if name == "" {
				name = hostOf(authority)
			}
			return c.handshakeTLS(ctx, x.Conn, name)
		}
	case *net.UnixConn:
		cred, err := peerCred(x)
		if err != nil {
			return nil, nil, err
		}
		return x, unixAuthInfo(cred, x.RemoteAddr()), nil
	}
	if ai, ok, err := muxAuthInfo(raw); ok {
		if err != nil {
			return nil, nil, err
		}
		return grpcConn(raw), ai, nil
	}
	// A raw TCP conn from grpc's own dialer: TLS to the authority.
	return c.handshakeTLS(ctx, raw, hostOf(authority))
}

// handshakeTLS runs a client TLS handshake offering ALPN h2.
func (c clientCreds) handshakeTLS(ctx context.Context, raw net.Conn, serverName string) (net.Conn, credentials.AuthInfo, error) {
	conf, err := c.cfg.tlsClientConfig(serverName, []string{ALPNGRPC})
	if err != nil {
		return nil, nil, err
	}
	tc := tls.Client(raw, conf)
	hctx, cancel := context.WithTimeout(ctx, c.cfg.tuning.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, nil, fmt.Errorf("podwire/transport: TLS handshake with %s (%s): %w", serverName, raw.RemoteAddr(), err)
	}
	ai, err := tlsAuthInfo(KindTLS, tc, raw.RemoteAddr())
	if err != nil {
		return nil, nil, err
	}
	return tc, ai, nil
}

// ServerHandshake is not used on a client.
func (clientCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("podwire/transport: client credentials used by a server; use transport.ServerOptions")
}

// Info describes the credentials.
func (clientCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: securityProtocol}
}

// Clone returns credentials sharing the immutable dial configuration.
func (c clientCreds) Clone() credentials.TransportCredentials { return c }

// OverrideServerName does nothing; deprecated in grpc.
func (clientCreds) OverrideServerName(string) error { return nil }

// hostOf strips an optional port from host:port.
func hostOf(authority string) string {
	if h, _, err := net.SplitHostPort(authority); err == nil {
		return h
	}
	return authority
}
