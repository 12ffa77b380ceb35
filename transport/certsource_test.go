package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podwire/podwire/transport/certs"
)

// certSourceT opens a CertSource on NAME's files in dir, closed at cleanup.
func certSourceT(tb testing.TB, dir, name string) *CertSource {
	tb.Helper()
	s, err := NewCertSource(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"),
		filepath.Join(dir, "ca.crt"), CertSourceOptions{Logger: testLogger(tb)})
	if err != nil {
		tb.Fatalf("NewCertSource: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// handshakeSerial runs a TLS handshake over a pipe between server and
// client configs and returns the serial of the server's leaf.
func handshakeSerial(tb testing.TB, server, client *tls.Config) (*big.Int, string, error) {
	tb.Helper()
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tls.Server(sc, server).HandshakeContext(ctx) }()
	tc := tls.Client(cc, client)
	err := tc.HandshakeContext(ctx)
	if serr := <-errc; err == nil {
		err = serr
	}
	if err != nil {
		return nil, "", err
	}
	st := tc.ConnectionState()
	return st.PeerCertificates[0].SerialNumber, st.NegotiatedProtocol, nil
}

func TestCertSourceHandshakeAndReload(t *testing.T) {
	dir := testCertDir(t, "inventory", "client")
	srv := certSourceT(t, dir, "inventory")
	cli := certSourceT(t, dir, "client")
	before, proto, err := handshakeSerial(t, srv.ServerConfig([]string{ALPNMux}), cli.ClientConfig("inventory", []string{ALPNMux}))
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if proto != ALPNMux {
		t.Errorf("ALPN = %q, want %q", proto, ALPNMux)
	}
	if _, _, err := handshakeSerial(t, srv.ServerConfig(nil), cli.ClientConfig("purchase", nil)); err == nil {
		t.Error("handshake verifying the wrong server name succeeded")
	}

	// A broken rewrite is ignored; a good one is picked up.
	crt := filepath.Join(dir, "inventory.crt")
	good, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crt, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * reloadDebounce)
	if got, _, err := handshakeSerial(t, srv.ServerConfig(nil), cli.ClientConfig("inventory", nil)); err != nil || got.Cmp(before) != 0 {
		t.Fatalf("after a broken rewrite: serial %v, err %v; want the previous certificate %v", got, err, before)
	}
	if err := os.WriteFile(crt, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.Write(dir, []string{"inventory"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _, err := handshakeSerial(t, srv.ServerConfig(nil), cli.ClientConfig("inventory", nil))
		if err == nil && got.Cmp(before) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serial %v (err %v) 5s after rotation, want a new one", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 2 {
		if err := srv.Close(); err != nil {
			t.Errorf("Close #%d = %v, want nil", i+1, err)
		}
	}
}

func TestNewCertSourceErrors(t *testing.T) {
	dir := testCertDir(t, "inventory")
	crt, key, ca := filepath.Join(dir, "inventory.crt"), filepath.Join(dir, "inventory.key"), filepath.Join(dir, "ca.crt")
	tests := []struct {
		name           string
		crt, key, ca   string
		opts           CertSourceOptions
		wantTLSMissing bool
	}{
		{"missing cert", filepath.Join(dir, "nope.crt"), key, ca, CertSourceOptions{}, true},
		{"key of another file", crt, ca, ca, CertSourceOptions{}, true},
		{"CA without PEM", crt, key, key, CertSourceOptions{}, true},
		{"TLS 1.1", crt, key, ca, CertSourceOptions{MinTLSVersion: tls.VersionTLS11}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewCertSource(tt.crt, tt.key, tt.ca, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("NewCertSource succeeded, want an error")
			}
			if got := errors.Is(err, ErrTLSConfigMissing); got != tt.wantTLSMissing {
				t.Errorf("error %v: Is ErrTLSConfigMissing = %v, want %v", err, got, tt.wantTLSMissing)
			}
		})
	}
}

// countHandler counts log records at Error level.
type countHandler struct{ errors *atomic.Int64 }

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.errors.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// TestPolledCertSource: without a watcher (the dialer's source), changed
// files are re-read when a config is built; a broken set is logged once,
// not on every dial, and the previous certificate stays in use.
func TestPolledCertSource(t *testing.T) {
	dir := testCertDir(t, "client")
	var errs atomic.Int64
	crt := filepath.Join(dir, "client.crt")
	s, err := newPolledCertSource(crt, filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.crt"),
		tls.VersionTLS13, slog.New(countHandler{&errs}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	leaf := func() *big.Int {
		t.Helper()
		c, err := x509.ParseCertificate(s.ClientConfig("inventory", nil).Certificates[0].Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return c.SerialNumber
	}
	before := leaf()
	good, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crt, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if got := leaf(); got.Cmp(before) != 0 {
			t.Fatalf("serial %v after a broken rewrite, want the previous %v", got, before)
		}
	}
	if got := errs.Load(); got != 1 {
		t.Errorf("reload errors logged = %d for 5 configs over one broken set, want 1", got)
	}
	if err := os.WriteFile(crt, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.Write(dir, []string{"client"}); err != nil {
		t.Fatal(err)
	}
	if got := leaf(); got.Cmp(before) == 0 {
		t.Errorf("serial still %v after the files were rewritten, want a new one", got)
	}
}

// TestDialsShareCertSource: Dials of one Client with the same files share
// its loaded CertSource (a new channel reads no files) and still see a
// rotation at the next config; another Client loads its own; Close drops
// them.
func TestDialsShareCertSource(t *testing.T) {
	dir := testCertDir(t, "client")
	c, err := NewClient(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.config([]DialOption{tlsFiles(dir, "client")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.config([]DialOption{tlsFiles(dir, "client"), WithLogger(testLogger(t))})
	if err != nil {
		t.Fatal(err)
	}
	if a.certs != b.certs {
		t.Errorf("two dials of the same files got sources %p and %p, want one shared", a.certs, b.certs)
	}
	c2, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	other, err := c2.config([]DialOption{tlsFiles(dir, "client")})
	if err != nil {
		t.Fatal(err)
	}
	if other.certs == a.certs {
		t.Error("another Client shares the first Client's source, want its own")
	}
	serial := func(c *dialConfig) *big.Int {
		t.Helper()
		conf, err := c.tlsClientConfig("inventory", nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber
	}
	old := serial(a)
	if err := certs.Write(dir, []string{"client"}); err != nil {
		t.Fatal(err)
	}
	if got := serial(b); got.Cmp(old) == 0 {
		t.Errorf("serial still %v after rotation through the shared source, want a new one", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(c.certs); got != 0 {
		t.Errorf("loaded sources after Close = %d, want 0", got)
	}
	if _, err := c.config([]DialOption{tlsFiles(dir, "client")}); !errors.Is(err, ErrClientClosed) {
		t.Errorf("config after Close = %v, want ErrClientClosed", err)
	}
}

// BenchmarkDialTLSFiles measures Dial (client configuration and a lazy
// grpc.ClientConn, no connection) with WithTLSFiles, then Close.
func BenchmarkDialTLSFiles(b *testing.B) {
	dir := testCertDir(b, "client")
	keep, err := Dial(context.Background(), "tls://127.0.0.1:1", tlsFiles(dir, "client"))
	if err != nil {
		b.Fatal(err)
	}
	defer keep.Close()
	b.ReportAllocs()
	for b.Loop() {
		cc, err := Dial(context.Background(), "tls://127.0.0.1:1", tlsFiles(dir, "client"))
		if err != nil {
			b.Fatal(err)
		}
		cc.Close()
	}
}
