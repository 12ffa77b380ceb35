package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwire/podwire/transport/certs"
)

// tlsConfT loads name's certificate from dir as a server (verifying
// clients against dir's CA) or a client config.
func tlsConfT(tb testing.TB, dir, name string, server bool) *tls.Config {
	tb.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}
	if server {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, pool
	} else {
		c.RootCAs, c.ServerName = pool, "inventory"
	}
	return c
}

// TestHandshakeFailureReasons runs each kind of failed handshake against
// a TLSListener and checks the reason it is counted under.
func TestHandshakeFailureReasons(t *testing.T) {
	dir := testCertDir(t, "inventory", "client")
	other := testCertDir(t, "client")
	expired := t.TempDir()
	copyFile(t, filepath.Join(dir, "ca.crt"), filepath.Join(expired, "ca.crt"))
	copyFile(t, filepath.Join(dir, "ca.key"), filepath.Join(expired, "ca.key"))
	writeExpiredClient(t, expired)

	reg := prometheus.NewRegistry()
	hf, err := NewHandshakeFailures(reg)
	if err != nil {
		t.Fatal(err)
	}
	reasons := make(chan string, 16)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.HandshakeTimeout = 2 * time.Second // generous: handshakes under -race on a loaded 2-core VM
	ln, err := NewTLSListener(raw, tlsConfT(t, dir, "inventory", true), TLSListenerOptions{Config: cfg, Logger: testLogger(t),
		OnHandshakeError: func(a net.Addr, err error) {
			hf.Observe(a, err)
			t.Logf("handshake error %T: %v", err, err)
			reasons <- HandshakeFailureReason(err)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	client := func(conf *tls.Config) func(net.Conn) {
		return func(c net.Conn) {
			tc := tls.Client(c, conf)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			if tc.Handshake() == nil {
				_, _ = tc.Read(make([]byte, 1)) // TLS 1.3: the server's verdict on our certificate comes after
			}
		}
	}
	noCert := tlsConfT(t, dir, "client", false)
	noCert.Certificates = nil
	tls12 := tlsConfT(t, dir, "client", false)
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	foreign := tlsConfT(t, dir, "client", false)
	foreign.Certificates = tlsConfT(t, other, "client", false).Certificates
	wrongServer := tlsConfT(t, dir, "client", false)
	wrongServer.RootCAs = x509.NewCertPool()
	tests := []struct {
		name string
		run  func(net.Conn)
		want string
	}{
		{"plaintext", func(c net.Conn) { fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); _, _ = c.Read(make([]byte, 64)) }, HandshakeNotTLS},
		{"silent", func(c net.Conn) { _, _ = c.Read(make([]byte, 1)) }, HandshakeTimeout},
		{"hang up", func(c net.Conn) {}, HandshakeClientClosed},
		{"no client certificate", client(noCert), HandshakeNoClientCert},
		{"client certificate from another CA", client(foreign), HandshakeUnknownCA},
		{"expired client certificate", client(tlsConfT(t, expired, "client", false)), HandshakeExpired},
		{"client refuses the server certificate", client(wrongServer), HandshakePeerAlert},
		{"TLS 1.2 only", client(tls12), HandshakeProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			tt.run(c)
			c.Close()
			select {
			case got := <-reasons:
				if got != tt.want {
					t.Errorf("reason = %q, want %q", got, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no handshake failure reported, want %q", tt.want)
			}
		})
	}
	want := map[string]float64{}
	for _, tt := range tests {
		want[tt.want]++
	}
	for reason, n := range want {
		if got, _ := metricValue(t, reg, "podwire_tls_handshake_failures_total", map[string]string{"reason": reason}); got != n {
			t.Errorf("podwire_tls_handshake_failures_total{reason=%q} = %v, want %v", reason, got, n)
		}
	}
	if _, err := NewHandshakeFailures(reg); !errors.Is(err, ErrBadConfig) {
		t.Errorf("second NewHandshakeFailures on one registry = %v, want ErrBadConfig", err)
	}
	if got := HandshakeFailureReason(ErrTooManyHandshakes); got != HandshakeLimit {
		t.Errorf("reason of ErrTooManyHandshakes = %q, want %q", got, HandshakeLimit)
	}
}

// writeExpiredClient writes a client certificate that expired a day ago,
// signed by the CA already in dir.
func writeExpiredClient(tb testing.TB, dir string) {
	tb.Helper()
	nb := time.Now().Add(-48 * time.Hour)
	if err := certs.Write(dir, []string{"client"}, certs.WithValidity(nb, nb.Add(time.Hour))); err != nil {
		tb.Fatalf("certs.Write expired: %v", err)
	}
}
