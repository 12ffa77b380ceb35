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

// certSource holds the current certificate and CA from PEM files and reloads
// them when the files change; handshakes after a reload use the new files,
// established connections keep going. Safe for concurrent use.
type certSource struct {
	certFile, keyFile, caFile string
	minVersion                uint16
	log                       *slog.Logger

	cur atomic.Pointer[certState]

	watcher *fsnotify.Watcher // nil when watching failed; reload then never happens
	done    chan struct{}
	wg      sync.WaitGroup // the watch goroutine
	once    sync.Once
}

// newPolledCertSource loads the files once; clientConfig re-reads them when
// their size or mtime changed. It starts no goroutine (clients have no
// Close hook on a grpc.ClientConn to stop one).
func newPolledCertSource(certFile, keyFile, caFile string, minVersion uint16, log *slog.Logger) (*certSource, error) {
	s := &certSource{certFile: certFile, keyFile: keyFile, caFile: caFile, minVersion: minVersion,
		log: loggerOr(log), done: make(chan struct{})}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// newCertSource loads the files once and starts watching their directories.
func newCertSource(certFile, keyFile, caFile string, minVersion uint16, log *slog.Logger) (*certSource, error) {
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

// refresh reloads when the files changed since the last load; a broken new
// set of files is logged and the previous one kept.
func (s *certSource) refresh() {
	if s.watcher != nil || fileStamp(s.certFile, s.keyFile, s.caFile) == s.cur.Load().stamp {
		return
	}
	if err := s.reload(); err != nil {
		s.log.Error("podwire: certificate reload failed; keeping the previous certificate", "err", err)
	}
}

// reload loads the files and, if they are valid, makes them current.
func (s *certSource) reload() error {
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
func (s *certSource) watch() {
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

// serverConfig returns a tls.Config whose handshakes use the certificate
// and CA current at handshake time.
func (s *certSource) serverConfig(alpn []string) *tls.Config {
	return &tls.Config{
		MinVersion: s.minVersion,
		NextProtos: alpn,
		ClientAuth: tls.RequireAndVerifyClientCert,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := s.cur.Load().server.Clone()
			c.NextProtos = alpn
			return c, nil
		},
	}
}

// clientConfig returns a tls.Config for one dial with the current
// certificate and CA, verifying serverName.
func (s *certSource) clientConfig(serverName string, alpn []string) *tls.Config {
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

// Close stops watching. Safe to call more than once.
func (s *certSource) Close() error {
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
