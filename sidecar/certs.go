package sidecar

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// certCheckInterval is how often, at most, a handshake stats the PEM files
// to notice a rotation (cert-manager renewing a Secret, for example).
const certCheckInterval = time.Second

// certStore holds the sidecar's certificate and CA pool and reloads them
// when the files change. Handshakes read it; live sessions keep the
// certificates they were made with. Safe for concurrent use.
type certStore struct {
	files TLSFiles
	log   *slog.Logger

	mu      sync.Mutex // guards the fields below
	cert    *tls.Certificate
	pool    *x509.CertPool
	stamp   string    // sizes and mtimes of the files at the last load
	checked time.Time // last stat of the files
}

func newCertStore(files TLSFiles, log *slog.Logger) (*certStore, error) {
	cs := &certStore{files: files, log: log}
	cert, pool, err := loadTLSFiles(files)
	if err != nil {
		return nil, err
	}
	cs.cert, cs.pool, cs.stamp, cs.checked = cert, pool, fileStamp(files), time.Now()
	return cs, nil
}

// current returns the certificate and CA pool, reloading them first if
// the files changed. A broken new set is logged and the old one kept.
func (cs *certStore) current() (*tls.Certificate, *x509.CertPool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if time.Since(cs.checked) < certCheckInterval {
		return cs.cert, cs.pool
	}
	cs.checked = time.Now()
	stamp := fileStamp(cs.files)
	if stamp == cs.stamp {
		return cs.cert, cs.pool
	}
	cert, pool, err := loadTLSFiles(cs.files)
	if err != nil {
		cs.log.Warn("TLS files changed but do not load; keeping the previous certificate", "err", err)
		return cs.cert, cs.pool
	}
	cs.cert, cs.pool, cs.stamp = cert, pool, stamp
	cs.log.Info("TLS certificate reloaded", "cert", cs.files.Cert)
	return cs.cert, cs.pool
}

// loadTLSFiles reads the key pair and the CA bundle.
func loadTLSFiles(f TLSFiles) (*tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("load tls.cert %s and tls.key %s: %w (give a PEM certificate and its matching key)", f.Cert, f.Key, err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("read tls.ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("tls.ca %s holds no PEM certificate; give the CA bundle that signs the peers", f.CA)
	}
	return &cert, pool, nil
}

// fileStamp summarises size and mtime of the files (following symlinks,
// as Kubernetes Secret volumes swap them).
func fileStamp(f TLSFiles) string {
	var b strings.Builder
	for _, p := range []string{f.Cert, f.Key, f.CA} {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}

// serverConfig is the inbound TLS config: TLS 1.3, client certificates
// required and verified against the current CA pool, ALPN podwire-mux/1.
func (cs *certStore) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := cs.current()
			return &tls.Config{
				MinVersion:   tls.VersionTLS13,
				Certificates: []tls.Certificate{*cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    pool,
				NextProtos:   []string{ALPN},
			}, nil
		},
	}
}

// clientConfig is the TLS config of a dial to an upstream.
func (cs *certStore) clientConfig(serverName string) *tls.Config {
	cert, pool := cs.current()
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{*cert},
		RootCAs:      pool,
		ServerName:   serverName,
		NextProtos:   []string{ALPN},
	}
}
