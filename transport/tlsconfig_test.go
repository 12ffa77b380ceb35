package transport

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestDialWithTLSConfig(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	s := tlsServer(t, certDir)
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "client.crt"), filepath.Join(certDir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "inventory"}
	p, err := check(t, dialT(t, "tls://"+s.ln.TLSAddr().String(), WithTLSConfig(conf)))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if p.Transport != KindTLS || p.Chain[0].Subject.CommonName != "inventory" {
		t.Errorf("peer = %v %q, want tls with the inventory certificate", p.Transport, p.Chain[0].Subject.CommonName)
	}
	if conf.NextProtos != nil || conf.MinVersion != 0 {
		t.Errorf("Dial modified the caller's tls.Config: NextProtos %v MinVersion %#x", conf.NextProtos, conf.MinVersion)
	}
}

func TestTLS12OnlyWhenAsked(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	s := tlsServer(t, certDir)
	cfg, err := DefaultClient.config([]DialOption{tlsFiles(certDir, "client")})
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := cfg.tlsClientConfig("inventory", []string{ALPNGRPC})
	conf.MinVersion, conf.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	c, err := tls.Dial("tcp", s.ln.TLSAddr().String(), conf)
	if err == nil {
		// TLS 1.3 servers may report the alert on first read.
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatalf("TLS 1.2 handshake succeeded against the default (1.3-only) server")
	}

	tc := DefaultConfig()
	tc.MinTLSVersion = tls.VersionTLS12
	s12 := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true, Config: tc}, certDir, "inventory"))
	c, err = tls.Dial("tcp", s12.ln.TLSAddr().String(), conf)
	if err != nil {
		t.Fatalf("TLS 1.2 handshake with a server that allows 1.2: %v", err)
	}
	defer c.Close()
	if v := c.ConnectionState().Version; v != tls.VersionTLS12 {
		t.Errorf("negotiated version %#x, want TLS 1.2", v)
	}
}
