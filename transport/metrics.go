package transport

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// clientMetrics are a Client's collectors; they count whether or not they
// are registered (WithRegisterer).
type clientMetrics struct {
	selections *prometheus.CounterVec // service, transport, reason
}

// newClientMetrics makes unregistered collectors.
func newClientMetrics() *clientMetrics {
	return &clientMetrics{
		selections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_transport_selections_total",
			Help: "Transport selections for bare service names, by service, transport (unix, mux+tls) and reason.",
		}, []string{"service", "transport", "reason"}),
	}
}

// register registers the collectors on reg.
func (m *clientMetrics) register(reg prometheus.Registerer) error {
	if err := reg.Register(m.selections); err != nil {
		return errors.Join(ErrBadConfig, err)
	}
	return nil
}

// handshakesRejected counts connections TLSListeners closed unhandshaken
// because MaxPendingHandshakes handshakes were in progress.
var handshakesRejected = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "podwire_transport_handshakes_rejected_total",
	Help: "Inbound TLS connections closed before their handshake because MaxPendingHandshakes handshakes were in progress.",
})

// Collectors returns the collectors of the package-level parts of
// transport, for reg.MustRegister(transport.Collectors()...): DefaultClient's
// podwire_transport_selections_total, the TLS listeners' handshake
// rejections and h2 connections closed for rapid reset. Counting happens whether or not they are registered. A
// Client of your own registers its collectors with WithRegisterer.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{DefaultClient.ready().m.selections, handshakesRejected, h2ResetsClosed}
}
