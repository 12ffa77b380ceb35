package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"google.golang.org/grpc/mem"
)

// remoteKind is the transport bare names use for a peer address: gRPC on a
// mux stream over a pooled TCP+TLS session.
const remoteKind = KindMuxTLS

// poolEntry is one of a Client's shared pools, reference-counted: it
// closes when its last holder (a resolver that selected a remote route, or
// a live stream) lets go, or at Client.Close.
type poolEntry struct {
	key  poolKey
	pool *mux.Pool
	refs int // guarded by the Client's mu
}

// poolKey is everything that makes two Dials' remote sessions differ:
// the TLS identity, the server name, the socket and TLS tuning and the
// logger. Dials of one Client that agree on all of it share a pool.
type poolKey struct {
	certFiles  [3]string   // WithTLSFiles, or empty
	tlsConf    *tls.Config // WithTLSConfig (the caller's pointer), or nil
	serverName string
	tuning     Config
	log        *slog.Logger
}

// poolKey returns cfg's pool identity.
func (c *dialConfig) poolKey() poolKey {
	k := poolKey{tlsConf: c.tlsConfOrig, serverName: c.serverName, tuning: c.tuning, log: c.log}
	copy(k.certFiles[:], c.certFiles)
	return k
}

// acquirePool returns the Client's pool for cfg, creating it, with one
// more ref.
func (c *Client) acquirePool(cfg *dialConfig) (*poolEntry, error) {
	key := cfg.poolKey()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	e := c.pools[key]
	if e == nil {
		pc := c.pool
		pc.Dial = cfg.dialMuxTLS
		if pc.Session.Logger == nil {
			pc.Session.Logger = cfg.log
		}
		p, err := mux.NewPool(pc)
		if err != nil {
			return nil, err
		}
		e = &poolEntry{key: key, pool: p}
		c.pools[key] = e
	}
	e.refs++
	return e, nil
}

// releasePool drops one ref and closes the pool after the last.
func (c *Client) releasePool(e *poolEntry) {
	c.mu.Lock()
	e.refs--
	last := e.refs == 0 && c.pools[e.key] == e
	if last {
		delete(c.pools, e.key)
	}
	c.mu.Unlock()
	if last {
		e.pool.Close()
	}
}

// dialMuxTLS is the pool's Dial: TCP, then TLS offering only podwire-mux/1,
// verifying the server as the service named in addr ("service@host:port").
// The conn carries the server's identity, which every stream of the
// session shares (pooledConn.AuthInfo).
func (c *dialConfig) dialMuxTLS(ctx context.Context, addr string) (net.Conn, error) {
	service, hostport, _ := strings.Cut(addr, "@")
	conf, err := c.tlsClientConfig(service, []string{ALPNMux})
	if err != nil {
		return nil, err
	}
	tc, err := DialMuxTLS(ctx, hostport, conf, c.tuning)
	if err != nil {
		return nil, err
	}
	ac, err := withTLSIdentity(KindMuxTLS, tc)
	if err != nil {
		tc.Close()
		return nil, err
	}
	return ac, nil
}

// DialMuxTLS dials hostport over TCP with cfg's socket options, runs the
// client TLS handshake with conf (its NextProtos replaced by
// podwire-mux/1) under cfg.HandshakeTimeout, and returns the connection
// once the server has selected podwire-mux/1, ready for mux.Client. ctx
// bounds the whole dial. The SDK's remote route and the sidecar's
// upstream pool dial with it; conf carries the client certificate and the
// server name to verify (CertSource.ClientConfig makes one).
func DialMuxTLS(ctx context.Context, hostport string, conf *tls.Config, cfg Config) (*tls.Conn, error) {
	cfg = cfg.orDefault()
	raw, err := cfg.dialTCP(ctx, hostport)
	if err != nil {
		return nil, fmt.Errorf("podwire/transport: dial %s: %w (check the address and that the peer listens)", hostport, err)
	}
	conf = conf.Clone()
	conf.NextProtos = []string{ALPNMux}
	tc := tls.Client(raw, conf)
	hctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("podwire/transport: TLS handshake with %s at %s: %w (check that both sides trust the same CA "+
			"and that the peer's certificate names %q)", conf.ServerName, hostport, err, conf.ServerName)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != ALPNMux {
		tc.Close()
		return nil, fmt.Errorf("podwire/transport: %s did not accept ALPN %s (got %q); it is not a podwire listener or sidecar, "+
			"dial it as tls://%s instead", hostport, ALPNMux, p, hostport)
	}
	return tc, nil
}

// dialRemote opens a gRPC stream to service over the shared pool.
func (c *dialConfig) dialRemote(ctx context.Context, service, hostport string) (net.Conn, error) {
	e, err := c.client.acquirePool(c)
	if err != nil {
		return nil, err
	}
	conn, err := e.pool.DialService(ctx, service+"@"+hostport, &wirev1.StreamHeader{
		Version: mux.HeaderVersion, Service: service, Payload: wirev1.Payload_PAYLOAD_GRPC,
	})
	if err != nil {
		c.client.releasePool(e)
		return nil, err
	}
	ai, ok := AuthInfoOf(conn.(interface{ Session() *mux.Session }).Session().Conn())
	if !ok {
		conn.Close()
		c.client.releasePool(e)
		return nil, errors.New("podwire/transport: mux session without the server's identity; this is a bug")
	}
	return &pooledConn{Conn: conn, ai: ai, client: c.client, entry: e}, nil
}

// pooledConn is a mux stream that holds a ref on its pool until closed,
// an AuthConn with the identity of its session's server.
type pooledConn struct {
	net.Conn
	ai     *AuthInfo // shared by every stream of the session
	client *Client
	entry  *poolEntry
	once   sync.Once
}

// AuthInfo returns the identity of the session's server.
func (c *pooledConn) AuthInfo() *AuthInfo { return c.ai }

// NetConn returns the mux stream.
func (c *pooledConn) NetConn() net.Conn { return c.Conn }

// ReadOnReady lets grpc pool the channel's read buffer (see authStream).
func (c *pooledConn) ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	return readOnReady(c.Conn, bufSize, pool)
}

// Close closes the stream and releases the pool ref once.
func (c *pooledConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.client.releasePool(c.entry) })
	return err
}
