package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc/credentials"
)

// securityProtocol is what podwire's credentials report in ProtocolInfo.
const securityProtocol = "podwire"

// serverCreds are the grpc TransportCredentials of a podwire server: they
// attach the *AuthInfo that the Listener's handshake (SO_PEERCRED at
// accept, the TLS handshake of the connection or of its mux session)
// produced with every connection.
type serverCreds struct{}

// ServerHandshake returns the identity c carries (AuthInfoOf). A conn
// from a listener podwire did not make is identified here instead.
func (serverCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if ai, ok := AuthInfoOf(c); ok {
		return grpcConn(c), ai, nil
	}
	ai, err := identify(c)
	if err != nil {
		return nil, nil, err
	}
	return c, ai, nil
}

// identify runs the identifying step on a conn that no podwire handshake
// produced (a listener or dialer of the caller's): the TLS state of a
// *tls.Conn, SO_PEERCRED of a Unix socket, else no identity (plaintext).
func identify(c net.Conn) (*AuthInfo, error) {
	if tc, ok := c.(*tls.Conn); ok {
		return tlsAuthInfo(KindTLS, tc, tc.RemoteAddr())
	}
	if c.LocalAddr().Network() == "unix" {
		cred, err := peerCred(c)
		if err != nil {
			return nil, err
		}
		return unixAuthInfo(cred, c.RemoteAddr()), nil
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

// withTLSIdentity returns tc as an AuthConn of kind (KindTLS for h2,
// KindMuxTLS for a mux session's connection).
func withTLSIdentity(kind Kind, tc *tls.Conn) (*authConn, error) {
	ai, err := tlsAuthInfo(kind, tc, tc.RemoteAddr())
	if err != nil {
		return nil, err
	}
	return &authConn{Conn: tc, ai: ai}, nil
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

// ClientHandshake returns the identity a conn from podwire's dialer
// already carries (Unix socket, loopback TCP, mux stream), else runs the
// TLS handshake that identifies the server: for a tls:// conn of the
// dialer, or a raw conn from grpc's own dialer (grpc.NewClient with the
// podwire resolver but another dialer).
func (c clientCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if ai, ok := AuthInfoOf(raw); ok {
		return grpcConn(raw), ai, nil
	}
	name := hostOf(authority)
	if cc, ok := raw.(*clientConn); ok {
		if cc.serverName != "" {
			name = cc.serverName
		}
		raw = cc.Conn
	} else if raw.LocalAddr().Network() == "unix" {
		ai, err := identify(raw)
		if err != nil {
			return nil, nil, err
		}
		return raw, ai, nil
	}
	return c.handshakeTLS(ctx, raw, name)
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
