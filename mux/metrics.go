package mux

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Direction says who opened a stream.
type Direction string

// Stream directions, used as metric labels.
const (
	DirInbound  Direction = "inbound"  // opened by the peer, returned by Accept
	DirOutbound Direction = "outbound" // opened by this side with Open or DialService
)

// Role says which end of the underlying connection a session is.
type Role string

// Session roles, used as metric labels.
const (
	RoleClient Role = "client"
	RoleServer Role = "server"
)

// Metrics receives the events of sessions and pools. Implementations must
// be safe for concurrent use and cheap: BytesIn and BytesOut run on every
// read and write of the underlying connection. NewPrometheusMetrics returns
// one; nil in Config means none.
type Metrics interface {
	// SessionOpened and SessionClosed bracket a session's life.
	SessionOpened(role Role)
	SessionClosed(role Role)
	// StreamOpened and StreamClosed bracket a stream's life on this side.
	StreamOpened(dir Direction)
	StreamClosed(dir Direction)
	// StreamRefused counts a stream refused by this side (inbound) or by the
	// peer (outbound), with the reply code's name, e.g. "RESOURCE_EXHAUSTED".
	StreamRefused(dir Direction, reason string)
	// BytesIn and BytesOut count bytes read from and written to the
	// underlying connection, framing included.
	BytesIn(n int)
	BytesOut(n int)
	// RTT records one keepalive round trip.
	RTT(d time.Duration)
	// Redial records a Pool dial that replaces a dead session; ok says
	// whether it worked.
	Redial(ok bool)
}

type nopMetrics struct{}

func (nopMetrics) SessionOpened(Role)              {}
func (nopMetrics) SessionClosed(Role)              {}
func (nopMetrics) StreamOpened(Direction)          {}
func (nopMetrics) StreamClosed(Direction)          {}
func (nopMetrics) StreamRefused(Direction, string) {}
func (nopMetrics) BytesIn(int)                     {}
func (nopMetrics) BytesOut(int)                    {}
func (nopMetrics) RTT(time.Duration)               {}
func (nopMetrics) Redial(bool)                     {}

// promMetrics implements Metrics with Prometheus collectors.
type promMetrics struct {
	sessions      *prometheus.GaugeVec
	streamsOpen   *prometheus.GaugeVec
	streamsOpened *prometheus.CounterVec
	refused       *prometheus.CounterVec
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	rtt           prometheus.Histogram
	redials       *prometheus.CounterVec
}

// NewPrometheusMetrics returns Metrics backed by collectors registered on
// reg, all named podwire_mux_*: sessions{role}, streams_open{direction},
// streams_opened_total{direction}, streams_refused_total{direction,reason},
// bytes_total{direction="in"|"out"}, rtt_seconds (histogram) and
// redials_total{result="ok"|"error"}. Calling it again with the same
// registry reuses the collectors already registered; a conflicting
// registration panics, like prometheus.MustRegister. Safe for concurrent
// use; share one across sessions and pools.
func NewPrometheusMetrics(reg prometheus.Registerer) Metrics {
	m := &promMetrics{
		sessions: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "podwire_mux_sessions", Help: "Live mux sessions.",
		}, []string{"role"})),
		streamsOpen: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "podwire_mux_streams_open", Help: "Streams open on this side.",
		}, []string{"direction"})),
		streamsOpened: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_mux_streams_opened_total", Help: "Streams opened or accepted.",
		}, []string{"direction"})),
		refused: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_mux_streams_refused_total",
			Help: "Streams refused by this side (inbound) or by the peer (outbound).",
		}, []string{"direction", "reason"})),
		rtt: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "podwire_mux_rtt_seconds", Help: "Keepalive ping round-trip time.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10),
		})),
		redials: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_mux_redials_total", Help: "Pool dials that replace a dead session.",
		}, []string{"result"})),
	}
	bytes := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "podwire_mux_bytes_total", Help: "Bytes on the underlying connections, framing included.",
	}, []string{"direction"}))
	m.bytesIn = bytes.WithLabelValues("in")
	m.bytesOut = bytes.WithLabelValues("out")
	return m
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic("podwire/mux: register metrics: " + err.Error())
}

func (m *promMetrics) SessionOpened(r Role) { m.sessions.WithLabelValues(string(r)).Inc() }
func (m *promMetrics) SessionClosed(r Role) { m.sessions.WithLabelValues(string(r)).Dec() }

func (m *promMetrics) StreamOpened(d Direction) {
	m.streamsOpened.WithLabelValues(string(d)).Inc()
	m.streamsOpen.WithLabelValues(string(d)).Inc()
}

func (m *promMetrics) StreamClosed(d Direction) { m.streamsOpen.WithLabelValues(string(d)).Dec() }

func (m *promMetrics) StreamRefused(d Direction, reason string) {
	m.refused.WithLabelValues(string(d), reason).Inc()
}

func (m *promMetrics) BytesIn(n int)       { m.bytesIn.Add(float64(n)) }
func (m *promMetrics) BytesOut(n int)      { m.bytesOut.Add(float64(n)) }
func (m *promMetrics) RTT(d time.Duration) { m.rtt.Observe(d.Seconds()) }

func (m *promMetrics) Redial(ok bool) {
	result := "error"
	if ok {
		result = "ok"
	}
	m.redials.WithLabelValues(result).Inc()
}
