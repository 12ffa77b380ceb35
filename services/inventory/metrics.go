package inventory

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the inventory service does, for Prometheus. A nil
// *Metrics records nothing. Safe for concurrent use.
type Metrics struct {
	reservations *prometheus.CounterVec
	resyncs      prometheus.Counter
	watchers     prometheus.Gauge
}

// NewMetrics registers podwire_inventory_reservations_total{result}
// (created, replayed, released, committed), podwire_inventory_watch_resyncs_total
// (slow watchers resynchronised) and podwire_inventory_watchers on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_inventory_reservations_total", Help: "Reservation changes, by result.",
		}, []string{"result"}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podwire_inventory_watch_resyncs_total", Help: "WatchStock streams that fell behind and were resynchronised.",
		}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podwire_inventory_watchers", Help: "Open WatchStock streams.",
		}),
	}
	reg.MustRegister(m.reservations, m.resyncs, m.watchers)
	return m
}

func (m *Metrics) reservation(result string) {
	if m != nil {
		m.reservations.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) resync() {
	if m != nil {
		m.resyncs.Inc()
	}
}

func (m *Metrics) watching(delta float64) {
	if m != nil {
		m.watchers.Add(delta)
	}
}
