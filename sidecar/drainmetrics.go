package sidecar

import "github.com/prometheus/client_golang/prometheus"

// drainMetrics count drains, GOAWAYs and restarts (issue #15). Registered
// on the Sidecar's registry next to metrics; safe for concurrent use.
type drainMetrics struct {
	drains   *prometheus.CounterVec // event: started, finished (streams ended), cut (drain_timeout)
	goaways  prometheus.Counter
	handoffs *prometheus.CounterVec // result: done, failed
	duration prometheus.Histogram
}

func newDrainMetrics(reg prometheus.Registerer) *drainMetrics {
	m := &drainMetrics{
		drains: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_sidecar_drains_total",
			Help: "Drains by event: started, finished (every stream ended) or cut (drain_timeout reached).",
		}, []string{"event"}),
		goaways: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podwire_sidecar_goaways_injected_total",
			Help: "HTTP/2 GOAWAY frames inserted toward apps' clients while draining (two per drained connection).",
		}),
		handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_sidecar_handoffs_total",
			Help: "Restarts on SIGHUP by result: done (a new process took the listeners) or failed (this one keeps serving).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "podwire_sidecar_drain_duration_seconds",
			Help:    "Time from the start of a drain until every stream ended or drain_timeout cut them.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60},
		}),
	}
	for _, e := range []string{"started", "finished", "cut"} {
		m.drains.WithLabelValues(e)
	}
	for _, r := range []string{"done", "failed"} {
		m.handoffs.WithLabelValues(r)
	}
	reg.MustRegister(m.drains, m.goaways, m.handoffs, m.duration)
	return m
}
