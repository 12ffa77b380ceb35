package mux

import (
	"sync"
	"time"
)

// countingMetrics records Metrics events by key, e.g. "sessions/client"
// (a gauge), "refused/inbound/RESOURCE_EXHAUSTED", "killed/ping_flood".
type countingMetrics struct {
	mu sync.Mutex // guards n
	n  map[string]int64
}

func newCountingMetrics() *countingMetrics { return &countingMetrics{n: map[string]int64{}} }

func (m *countingMetrics) add(key string, d int64) {
	m.mu.Lock()
	m.n[key] += d
	m.mu.Unlock()
}

func (m *countingMetrics) get(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[key]
}

func (m *countingMetrics) SessionOpened(r Role)     { m.add("sessions/"+string(r), 1) }
func (m *countingMetrics) SessionClosed(r Role)     { m.add("sessions/"+string(r), -1) }
func (m *countingMetrics) StreamOpened(d Direction) { m.add("open/"+string(d), 1) }
func (m *countingMetrics) StreamClosed(d Direction) { m.add("open/"+string(d), -1) }
func (m *countingMetrics) StreamRefused(d Direction, reason string) {
	m.add("refused/"+string(d)+"/"+reason, 1)
}
func (m *countingMetrics) BytesIn(n int)               { m.add("bytes/in", int64(n)) }
func (m *countingMetrics) BytesOut(n int)              { m.add("bytes/out", int64(n)) }
func (m *countingMetrics) RTT(time.Duration)           { m.add("rtt", 1) }
func (m *countingMetrics) Redial(bool)                 { m.add("redials", 1) }
func (m *countingMetrics) SessionKilled(reason string) { m.add("killed/"+reason, 1) }
