package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDebounce coalesces the burst of events one certificate rotation
// makes (write, chmod, rename of several files).
const reloadDebounce = 100 * time.Millisecond

// certState is one loaded generation of certificate, key and CA bundle.
type certState struct {
	cert  tls.Certificate
	roots *x509.CertPool
	// server is the tls.Config handed to each server handshake.
	server *tls.Config
	// stamp identifies the files' versions (size and mtime), for polling.
	stamp string
}

// CertSource holds a certificate, its key and a CA bundle loaded from PEM
// files and reloads them when the files change (written, renamed, or a
// Kubernetes Secret volume's symlink swapped): handshakes after a reload
// use the new files, established connections keep going, and a broken new
// set is logged and the previous one kept. Listen uses one for its TLS
// port, the sidecar for its link. Safe for concurrent use; Close stops the
// watch.
type CertSource struct {
	certFile, keyFile, caFile string
	minVersion                uint16
	log                       *slog.Logger

	cur      atomic.Pointer[certState]
	badStamp atomic.Value // string: the stamp of files that failed to load, not retried until they change

	watcher *fsnotify.Watcher // nil when watching failed; reload then never happens
	done    chan struct{}
	wg      sync.WaitGroup // the watch goroutine
	once    sync.Once
}

// CertSourceOptions configures NewCertSource. The zero value is valid.
type CertSourceOptions struct {
	// MinTLSVersion is the lowest TLS version of the configs it returns:
	// tls.VersionTLS12 or tls.VersionTLS13. Zero means TLS 1.3.
	MinTLSVersion uint16
	// Logger receives reload and watch errors; nil discards.
	Logger *slog.Logger
}

// NewCertSource loads the PEM files certFile, keyFile and caFile and
// starts watching their directories; a change is picked up about 100ms
// after the last write. If the platform cannot watch, it logs a warning
// and instead re-reads changed files when a config is built. Errors are
// *TLSConfigError naming the file.
func NewCertSource(certFile, keyFile, caFile string, opts CertSourceOptions) (*CertSource, error) {
	if opts.MinTLSVersion == 0 {
		opts.MinTLSVersion = tls.VersionTLS13
	}
	if opts.MinTLSVersion != tls.VersionTLS12 && opts.MinTLSVersion != tls.VersionTLS13 {
		return nil, configError("CertSourceOptions.MinTLSVersion", "must be tls.VersionTLS12 or tls.VersionTLS13, got %#x", opts.MinTLSVersion)
	}
	return newCertSource(certFile, keyFile, caFile, opts.MinTLSVersion, opts.Logger)
}

// newPolledCertSource loads the files once; clientConfig re-reads them when
// their size or mtime changed. It starts no goroutine, so a Client keeps
// its sources without closing them.
func newPolledCertSource(certFile, keyFile, caFile string, minVersion uint16, log *slog.Logger) (*CertSource, error) {
	s := &CertSource{certFile: certFile, keyFile: keyFile, caFile: caFile, minVersion: minVersion,
		log: loggerOr(log), done: make(chan struct{})}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// certKey identifies a Client's loaded client certificate.
type certKey struct {
	certFile, keyFile, caFile string
	minVersion                uint16
}

// newCertSource loads the files once and starts watching their directories.
func newCertSource(certFile, keyFile, caFile string, minVersion uint16, log *slog.Logger) (*CertSource, error) {
	s, err := newPolledCertSource(certFile, keyFile, caFile, minVersion, log)
	if err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("podwire: cannot watch certificate files; they will not be reloaded", "err", err)
		return s, nil
	}
	dirs := map[string]bool{}
	for _, f := range []string{certFile, keyFile, caFile} {
		dirs[filepath.Dir(f)] = true
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			w.Close()
			return nil, fmt.Errorf("podwire/transport: watch certificate dir %s: %w", d, err)
		}
	}
	s.watcher = w
	s.wg.Add(1)
	go s.watch()
	return s, nil
}

// loadCertState reads and checks the three PEM files.
func loadCertState(certFile, keyFile, caFile string) (*certState, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, &TLSConfigError{What: "certificate " + certFile + " / key " + keyFile, Err: err}
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, &TLSConfigError{What: "CA bundle " + caFile, Err: err}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, &TLSConfigError{What: "CA bundle " + caFile, Err: errors.New("no PEM certificates found")}
	}
	return &certState{cert: cert, roots: roots, stamp: fileStamp(certFile, keyFile, caFile)}, nil
}

// fileStamp summarizes the size and mtime of files.
func fileStamp(files ...string) string {
	var b []byte
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			b = fmt.Appendf(b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return string(b)
}

// refresh reloads when the files changed since the last load (only when
// not watching); a broken new set is logged once and the previous one kept.
func (s *CertSource) refresh() {
	if s.watcher != nil {
		return
	}
	stamp := fileStamp(s.certFile, s.keyFile, s.caFile)
	if stamp == s.cur.Load().stamp {
		return
	}
	if bad, _ := s.badStamp.Load().(string); bad == stamp {
		return
	}
	if err := s.reload(); err != nil {
		s.badStamp.Store(stamp)
		s.log.Error("podwire: certificate reload failed; keeping the previous certificate", "err", err)
	}
}

// reload loads the files and, if they are valid, makes them current.
func (s *CertSource) reload() error {
	st, err := loadCertState(s.certFile, s.keyFile, s.caFile)
	if err != nil {
		return err
	}
	st.server = &tls.Config{
		MinVersion:   s.minVersion,
		Certificates: []tls.Certificate{st.cert},
		ClientCAs:    st.roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	s.cur.Store(st)
	return nil
}

// watch reloads after file events settle, until Close.
func (s *CertSource) watch() {
	defer s.wg.Done()
	names := map[string]bool{}
	for _, f := range []string{s.certFile, s.keyFile, s.caFile} {
		names[filepath.Base(f)] = true
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case ev, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			// Kubernetes secret volumes swap a "..data" symlink; treat any
			// hidden entry like a change to our files.
			base := filepath.Base(ev.Name)
			if names[base] || (len(base) > 1 && base[0] == '.') {
				timer.Reset(reloadDebounce)
			}
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			s.log.Warn("podwire: certificate watch error", "err", err)
		case <-timer.C:
			if err := s.reload(); err != nil {
				s.log.Error("podwire: certificate reload failed; keeping the previous certificate", "err", err)
				continue
			}
			s.log.Info("podwire: certificates reloaded", "cert", s.certFile, "ca", s.caFile)
		}
	}
}

// ServerConfig returns a server tls.Config offering the ALPN protocols
// alpn, requiring a client certificate that verifies against the CA, and
// using the certificate and CA current at each handshake.
func (s *CertSource) ServerConfig(alpn []string) *tls.Config {
	return &tls.Config{
		MinVersion: s.minVersion,
		NextProtos: alpn,
		ClientAuth: tls.RequireAndVerifyClientCert,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			s.refresh()
			c := s.cur.Load().server.Clone()
			c.NextProtos = alpn
			return c, nil
		},
	}
}

// ClientConfig returns a client tls.Config for one dial: the current
// certificate as client certificate, the current CA as roots, verifying
// the server as serverName and offering the ALPN protocols alpn.
func (s *CertSource) ClientConfig(serverName string, alpn []string) *tls.Config {
	s.refresh()
	st := s.cur.Load()
	return &tls.Config{
		MinVersion:   s.minVersion,
		ServerName:   serverName,
		NextProtos:   alpn,
		RootCAs:      st.roots,
		Certificates: []tls.Certificate{st.cert},
	}
}

// Close stops watching and waits for the watch goroutine. Safe to call
// more than once.
func (s *CertSource) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		if s.watcher != nil {
			err = s.watcher.Close()
		}
		s.wg.Wait()
	})
	return err
}
