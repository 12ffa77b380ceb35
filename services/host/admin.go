package host

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/podwire/podwire/internal/statusapi"
	"github.com/podwire/podwire/transport"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// admin is the loopback HTTP endpoint: /metrics, /healthz, /readyz and
// /debug/sessions (the JSON `podwire status` reads, as from a sidecar).
type admin struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve returned
}

// listenAdmin listens on a loopback host:port, or on unix:PATH with the
// SDK's socket lifecycle (0660 socket, a live socket never stolen, a stale
// one removed, removed on close; a shared socket dir such as a pod's
// emptyDir only with PODWIRE_ALLOW_SHARED_SOCKET_DIR, as for the service
// socket).
func listenAdmin(addr string, log *slog.Logger) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		shared, _ := strconv.ParseBool(os.Getenv(transport.AllowSharedSocketDirEnv))
		return transport.ListenUnix(context.Background(), path, transport.UnixSocketOptions{AllowSharedDir: shared, Logger: log})
	}
	return net.Listen("tcp", addr)
}

// startAdmin listens on addr (already checked: loopback or unix:PATH) and serves
// in a goroutine that close stops and waits for.
func startAdmin(addr string, gather prometheus.Gatherer, ready *atomic.Bool, snapshot func(admin net.Addr) statusapi.Snapshot, log *slog.Logger) (*admin, error) {
	ln, err := listenAdmin(addr, log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /debug/sessions", statusapi.Handler(func() statusapi.Snapshot { return snapshot(ln.Addr()) }))
	a := &admin{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("host: admin endpoint stopped", "err", err)
		}
	}()
	return a, nil
}

// Addr returns the bound address.
func (a *admin) Addr() net.Addr { return a.ln.Addr() }

// close stops the endpoint within ctx and waits for its goroutine.
func (a *admin) close(ctx context.Context) {
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close()
	}
	<-a.done
}

// snapshot describes a serving service for /debug/sessions: readiness,
// uptime, its socket, TLS port and admin, and the mux sessions on its TLS
// port.
func snapshot(cfg Config, lis *transport.Listener, ready *atomic.Bool, started time.Time, adminAddr net.Addr) statusapi.Snapshot {
	snap := statusapi.Snapshot{
		Kind: statusapi.KindService, Service: cfg.Service, Ready: ready.Load(),
		UptimeSecs: time.Since(started).Seconds(), SocketDir: filepath.Dir(lis.SocketPath()),
		Listeners: []statusapi.ListenerInfo{}, Sessions: []statusapi.SessionInfo{}, Upstreams: []statusapi.FlowInfo{},
	}
	if !snap.Ready {
		snap.NotReady = "not serving (starting or stopping)"
	}
	if p := lis.SocketPath(); p != "" {
		li := statusapi.ListenerInfo{Role: "service", Name: cfg.Service, Network: "unix", Address: p}
		if fi, err := os.Stat(p); err == nil {
			li.Mode = fi.Mode().String()
		}
		snap.Listeners = append(snap.Listeners, li)
	}
	if a := lis.TLSAddr(); a != nil {
		snap.Listeners = append(snap.Listeners, statusapi.ListenerInfo{Role: "tls", Name: cfg.Service, Network: "tcp", Address: a.String()})
	}
	snap.Listeners = append(snap.Listeners, statusapi.ListenerInfo{Role: "admin", Network: "tcp", Address: adminAddr.String()})
	for _, ms := range lis.MuxSessions() {
		si := statusapi.FromMux(ms.SessionInfo)
		si.Direction, si.Transport, si.SPIFFEID, si.DNSNames = "inbound", "mux+tls", ms.SPIFFEID, ms.DNSNames
		si.Peer = ms.SPIFFEID
		if si.Peer == "" && len(ms.DNSNames) > 0 {
			si.Peer = "dns:" + ms.DNSNames[0]
		}
		snap.Sessions = append(snap.Sessions, si)
	}
	return snap
}
