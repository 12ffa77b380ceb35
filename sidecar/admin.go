package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer serves the admin endpoints on loopback TCP or a Unix socket.
type adminServer struct {
	ln  net.Listener
	srv *http.Server
	uds bool
}

func newAdminServer(ctx context.Context, s *Sidecar) (*adminServer, error) {
	var (
		ln  net.Listener
		err error
		uds bool
	)
	if path, ok := strings.CutPrefix(s.cfg.Admin, "unix:"); ok {
		uds = true
		ln, err = s.listenUnix(ctx, path)
	} else {
		ln, err = s.listenTCP(ctx, s.cfg.Admin)
	}
	if err != nil {
		return nil, fmt.Errorf("admin listener %s: %w (change admin or free it)", s.cfg.Admin, err)
	}
	return &adminServer{
		ln:  ln,
		uds: uds,
		srv: &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          nil,
		},
	}, nil
}

func (a *adminServer) serve() {
	if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = err // the listener was closed under it; Close reports nothing more useful
	}
}

func (a *adminServer) close() { a.srv.Close() }

func (a *adminServer) addr() string {
	if a.uds {
		return "unix:" + a.ln.Addr().String()
	}
	return a.ln.Addr().String()
}

// Handler returns the admin HTTP handler: /metrics (Prometheus text),
// /healthz (200 while the process serves), /readyz (200 when ready, else
// 503 with the reason), /debug/sessions (a JSON Snapshot) and POST
// /restart (the SIGHUP restart, see Run). Start serves it on Config.Admin;
// tests may mount it elsewhere.
func (s *Sidecar) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /restart", s.serveRestart)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if reason := s.notReady(); reason != "" {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /debug/sessions", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Snapshot())
	})
	return mux
}

// Ready reports whether the sidecar is ready: started, not draining, its
// listeners up and a live session to every upstream.
func (s *Sidecar) Ready() bool { return s.notReady() == "" }

// notReady returns why the sidecar is not ready, or "".
func (s *Sidecar) notReady() string {
	if !s.starting.Load() {
		return "not started"
	}
	if s.draining.Load() {
		return "draining"
	}
	s.mu.Lock()
	closed, in, ups := s.closed, s.inLn, len(s.upLns)
	s.mu.Unlock()
	switch {
	case closed:
		return "closed"
	case len(s.cfg.Services) > 0 && in == nil:
		return "inbound listener not up"
	case ups != len(s.cfg.Upstreams):
		return "upstream sockets not up"
	}
	for _, addr := range s.upstreamAddrs() {
		if s.sessionAlive(addr) {
			continue
		}
		s.mu.Lock()
		err := s.dialErrs[addr]
		s.mu.Unlock()
		if err != nil {
			return fmt.Sprintf("no live session to upstream %s: %v", addr, err)
		}
		return fmt.Sprintf("no live session to upstream %s yet", addr)
	}
	return ""
}
