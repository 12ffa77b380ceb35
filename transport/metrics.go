package transport

import "github.com/prometheus/client_golang/prometheus"

// selections counts transport selections for bare names.
var selections = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "podwire_transport_selections_total",
	Help: "Transport selections for bare service names, by service, transport (unix, mux+tls) and reason.",
}, []string{"service", "transport", "reason"})

// handshakesRejected counts connections TLSListeners closed unhandshaken
// because MaxPendingHandshakes handshakes were in progress.
var handshakesRejected = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "podwire_transport_handshakes_rejected_total",
	Help: "Inbound TLS connections closed before their handshake because MaxPendingHandshakes handshakes were in progress.",
})

// Collectors returns podwire transport's Prometheus collectors, for
// reg.MustRegister(transport.Collectors()...). Counting happens whether or
// not they are registered.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{selections, handshakesRejected}
}
