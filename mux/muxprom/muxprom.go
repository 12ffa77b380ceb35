package muxprom

import (
	"errors"
	"time"

	"github.com/podwire/podwire/mux"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics implements mux.Metrics with Prometheus collectors. Safe for
// concurrent use.
type Metrics struct {
	sessions      *prometheus.GaugeVec
	streamsOpen   *prometheus.GaugeVec
	streamsOpened *prometheus.CounterVec
	refused       *prometheus.CounterVec
	killed        *prometheus.CounterVec
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	rtt           prometheus.Histogram
	redials       *prometheus.CounterVec
}

var _ mux.Metrics = (*Metrics)(nil)

// New returns Metrics backed by collectors registered on reg, all named
// podwire_mux_*: sessions{role}, streams_open{direction},
// streams_opened_total{direction}, streams_refused_total{direction,reason},
// sessions_killed_total{reason} (sessions closed because the peer broke a
// limit: ping_flood, refusal_flood), bytes_total{direction="in"|"out"},
// rtt_seconds (histogram) and redials_total{result="ok"|"error"}. Calling
// it again with the same registry reuses the collectors already
// registered; a conflicting registration panics, like
// prometheus.MustRegister.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
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
		killed: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_mux_sessions_killed_total",
			Help: "Sessions closed by this side because the peer broke a limit (ping_flood, refusal_flood).",
		}, []string{"reason"})),
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
	panic("podwire/mux/muxprom: register metrics: " + err.Error())
}

// SessionOpened increments podwire_mux_sessions{role}.
func (m *Metrics) SessionOpened(r mux.Role) { m.sessions.WithLabelValues(string(r)).Inc() }

// SessionClosed decrements podwire_mux_sessions{role}.
func (m *Metrics) SessionClosed(r mux.Role) { m.sessions.WithLabelValues(string(r)).Dec() }

// StreamOpened counts a stream and adds it to the open gauge.
func (m *Metrics) StreamOpened(d mux.Direction) {
	m.streamsOpened.WithLabelValues(string(d)).Inc()
	m.streamsOpen.WithLabelValues(string(d)).Inc()
}

// StreamClosed removes a stream from the open gauge.
func (m *Metrics) StreamClosed(d mux.Direction) { m.streamsOpen.WithLabelValues(string(d)).Dec() }

// StreamRefused counts a refusal by its direction and code name.
func (m *Metrics) StreamRefused(d mux.Direction, reason string) {
	m.refused.WithLabelValues(string(d), reason).Inc()
}

// SessionKilled counts a session closed because its peer broke a limit.
func (m *Metrics) SessionKilled(reason string) { m.killed.WithLabelValues(reason).Inc() }

// BytesIn adds n to podwire_mux_bytes_total{direction="in"}.
func (m *Metrics) BytesIn(n int) { m.bytesIn.Add(float64(n)) }

// BytesOut adds n to podwire_mux_bytes_total{direction="out"}.
func (m *Metrics) BytesOut(n int) { m.bytesOut.Add(float64(n)) }

// RTT observes one keepalive round trip.
func (m *Metrics) RTT(d time.Duration) { m.rtt.Observe(d.Seconds()) }

// Redial counts a Pool redial by its result.
func (m *Metrics) Redial(ok bool) {
	result := "error"
	if ok {
		result = "ok"
	}
	m.redials.WithLabelValues(result).Inc()
}
