package purchase

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the purchase service does, for Prometheus. A nil
// *Metrics records nothing. Safe for concurrent use.
type Metrics struct {
	orders  *prometheus.CounterVec
	retries *prometheus.CounterVec
}

// NewMetrics registers podwire_purchase_orders_total{result} (placed,
// replayed, rejected, failed, cancelled) and
// podwire_purchase_inventory_retries_total{op} on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_purchase_orders_total", Help: "PlaceOrder and CancelOrder outcomes.",
		}, []string{"result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_purchase_inventory_retries_total", Help: "Retried calls to inventory, by operation.",
		}, []string{"op"}),
	}
	reg.MustRegister(m.orders, m.retries)
	return m
}

func (m *Metrics) order(result string) {
	if m != nil {
		m.orders.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) retry(op string) {
	if m != nil {
		m.retries.WithLabelValues(op).Inc()
	}
}
