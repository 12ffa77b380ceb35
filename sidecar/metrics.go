package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/podwire/podwire/internal/statusapi"
	"github.com/podwire/podwire/transport"
)

// metrics are the sidecar's own collectors, registered on the Sidecar's
// private registry (served at /metrics next to the mux collectors). All
// fields are safe for concurrent use.
type metrics struct {
	sessions      *prometheus.GaugeVec   // direction
	sessionsTotal *prometheus.CounterVec // direction
	streams       *prometheus.GaugeVec   // direction, service
	streamsTotal  *prometheus.CounterVec // direction, service
	bytes         *prometheus.CounterVec // direction, service, dir ("tx" toward the peer, "rx" from it)
	refusals      *prometheus.CounterVec // direction, reason
	ready         prometheus.Gauge
	handshakes    *transport.HandshakeFailures // podwire_tls_handshake_failures_total{reason}
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "podwire_sidecar_sessions", Help: "Live mux sessions by direction (inbound = accepted on listen).",
		}, []string{"direction"}),
		sessionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_sidecar_sessions_total", Help: "Inbound TLS connections that became mux sessions.",
		}, []string{"direction"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "podwire_sidecar_streams", Help: "Proxied streams in flight by direction and service.",
		}, []string{"direction", "service"}),
		streamsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_sidecar_streams_total", Help: "Proxied streams started by direction and service.",
		}, []string{"direction", "service"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_sidecar_bytes_total", Help: "Bytes copied by direction, service and flow (tx: toward the remote peer, rx: from it).",
		}, []string{"direction", "service", "flow"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_sidecar_refusals_total", Help: "Streams refused or failed before proxying, by direction and reason.",
		}, []string{"direction", "reason"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podwire_sidecar_ready", Help: "1 when /readyz answers 200.",
		}),
	}
	hf, err := transport.NewHandshakeFailures(reg)
	if err != nil {
		panic(err) // a conflicting registration panics, as MustRegister below
	}
	m.handshakes = hf
	reg.MustRegister(m.sessions, m.sessionsTotal, m.streams, m.streamsTotal, m.bytes, m.refusals, m.ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// metricsServer is the metrics-only endpoint of Config.MetricsListen.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
	app *http.Client // to Config.AppAdmin; nil without it
	url string       // the app's /metrics URL for app
}

// validateMetrics checks MetricsListen (host:port) and AppAdmin (as
// admin: loopback host:port or unix:/abs/path).
func (c Config) validateMetrics() error {
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil || port == "" {
			return &ConfigError{Field: "metrics_listen", Reason: fmt.Sprintf("%q is not host:port; use e.g. \":15090\" (all addresses of the pod)", c.MetricsListen)}
		}
	}
	if c.AppAdmin != "" {
		if err := validateAdmin(c.AppAdmin); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return &ConfigError{Field: "app_admin", Reason: ce.Reason}
			}
			return err
		}
	}
	return nil
}

// startMetrics binds Config.MetricsListen, if set, and serves it until
// Close.
func (s *Sidecar) startMetrics(ctx context.Context) error {
	if s.cfg.MetricsListen == "" {
		return nil
	}
	ln, err := s.listenTCP(ctx, s.cfg.MetricsListen) // passed on to a restarted successor
	if err != nil {
		return fmt.Errorf("metrics listener %s: %w (change metrics_listen or free the port)", s.cfg.MetricsListen, err)
	}
	ms := &metricsServer{ln: ln}
	if s.cfg.AppAdmin != "" {
		var base string
		ms.app, base = statusapi.Client(s.cfg.AppAdmin, 10*time.Second)
		ms.url = base + "/metrics"
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /metrics/app", ms.appMetrics)
	ms.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if !s.setLocked(func() { s.metricsSrv = ms }) {
		ln.Close()
		return ErrClosed
	}
	s.goTracked(func() { _ = ms.srv.Serve(ln) }) // ends with ErrServerClosed at Close
	return nil
}

// MetricsAddr returns the bound MetricsListen address ("" when off or
// before Start).
func (s *Sidecar) MetricsAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metricsSrv == nil {
		return ""
	}
	return s.metricsSrv.ln.Addr().String()
}

// close stops the endpoint.
func (ms *metricsServer) close() { ms.srv.Close() }

// appMetrics answers GET /metrics/app with the app admin's /metrics: the
// scraper's Accept header goes through, the body and Content-Type come
// back; 404 without app_admin, 502 when the app does not answer.
func (ms *metricsServer) appMetrics(w http.ResponseWriter, r *http.Request) {
	if ms.app == nil {
		http.Error(w, "no app_admin configured: the app's metrics are not proxied", http.StatusNotFound)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, ms.url, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if a := r.Header.Get("Accept"); a != "" {
		req.Header.Set("Accept", a)
	}
	resp, err := ms.app.Do(req)
	if err != nil {
		http.Error(w, "app admin unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
