package mux

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// connMaker returns the two ends of a fresh connection: client (dialer)
// and server (acceptor).
type connMaker func(tb testing.TB) (client, server net.Conn)

// connKinds are the underlying connections every session test runs over.
var connKinds = []struct {
	name string
	make connMaker
}{
	{"pipe", pipeConns},
	{"uds", udsConns},
	{"tcp", tcpConns},
	{"tls", tlsConns},
}

func pipeConns(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	c, s := net.Pipe()
	tb.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func tcpConns(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	return listenPair(tb, "tcp", "127.0.0.1:0")
}

func udsConns(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	return listenPair(tb, "unix", filepath.Join(tb.TempDir(), "m.sock"))
}

func listenPair(tb testing.TB, network, addr string) (net.Conn, net.Conn) {
	tb.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatalf("listen %s %s: %v", network, addr, err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		tb.Fatalf("dial %s: %v", ln.Addr(), err)
	}
	r := <-ch
	if r.err != nil {
		tb.Fatalf("accept: %v", r.err)
	}
	tb.Cleanup(func() { c.Close(); r.c.Close() })
	return c, r.c
}

func tlsConns(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	c, s := tcpConns(tb)
	return handshakeTLS(tb, c, s)
}

// handshakeTLS runs mutual TLS over c (client) and s (server) and returns
// the handshaken conns.
func handshakeTLS(tb testing.TB, c, s net.Conn) (net.Conn, net.Conn) {
	tb.Helper()
	pki := testPKI(tb)
	tc := tls.Client(c, pki.client)
	ts := tls.Server(s, pki.server)
	errc := make(chan error, 1)
	go func() { errc <- ts.Handshake() }()
	if err := tc.Handshake(); err != nil {
		tb.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		tb.Fatalf("server handshake: %v", err)
	}
	return tc, ts
}

// pki holds mutual-TLS configs signed by one in-test ECDSA P-256 CA.
type pki struct{ client, server *tls.Config }

var (
	pkiOnce sync.Once
	pkiVal  pki
	pkiErr  error
)

func testPKI(tb testing.TB) pki {
	tb.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = newPKI() })
	if pkiErr != nil {
		tb.Fatalf("make test PKI: %v", pkiErr)
	}
	return pkiVal
}

func newPKI() (pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pki{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "podwire test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return pki{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return pki{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	leaf := func(serial int64, usage x509.ExtKeyUsage) (tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "podwire test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
	}
	srv, err := leaf(2, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return pki{}, err
	}
	cli, err := leaf(3, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return pki{}, err
	}
	return pki{
		client: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{cli}, ServerName: "localhost"},
		server: &tls.Config{MinVersion: tls.VersionTLS13, ClientCAs: pool, Certificates: []tls.Certificate{srv}, ClientAuth: tls.RequireAndVerifyClientCert},
	}, nil
}

// testConfig is DefaultConfig with short timers for tests.
func testConfig() Config {
	c := DefaultConfig()
	c.KeepAliveInterval = 200 * time.Millisecond
	c.KeepAliveTimeout = 500 * time.Millisecond
	c.HeaderTimeout = 2 * time.Second
	c.StreamCloseTimeout = 2 * time.Second
	return c
}

// sessionPair starts a client and a server session over conns from mk and
// closes both at cleanup.
func sessionPair(tb testing.TB, mk connMaker, cfg Config) (client, server *Session) {
	tb.Helper()
	cc, sc := mk(tb)
	return sessionsOn(tb, cc, sc, cfg)
}

func sessionsOn(tb testing.TB, cc, sc net.Conn, cfg Config) (client, server *Session) {
	tb.Helper()
	client, err := Client(cc, cfg)
	if err != nil {
		tb.Fatalf("Client: %v", err)
	}
	server, err = Server(sc, cfg)
	if err != nil {
		client.Close()
		tb.Fatalf("Server: %v", err)
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
