package sidecar

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	reg.MustRegister(m.sessions, m.sessionsTotal, m.streams, m.streamsTotal, m.bytes, m.refusals, m.ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
