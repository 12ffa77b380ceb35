package muxprom_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/mux/muxprom"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sessionPair starts a client and server session over TCP loopback with
// cfg; both are closed at cleanup.
func sessionPair(tb testing.TB, cfg mux.Config) (client, server *mux.Session) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	if client, err = mux.Client(cc, cfg); err != nil {
		tb.Fatal(err)
	}
	if server, err = mux.Server(sc, cfg); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestMetricsOfALiveSession(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := muxprom.New(reg)
	if muxprom.New(reg) == nil { // same registry again: reuses collectors
		t.Fatal("second New on one registry returned nil")
	}
	client, server := sessionPair(t, mux.Config{KeepAliveInterval: 20 * time.Millisecond, Metrics: m})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := client.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b, err := server.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for client.RTT() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	m.SessionKilled(mux.KillPingFlood)
	tests := []struct {
		metric, label string
		want          float64 // histograms: at least this many samples
	}{
		{"podwire_mux_sessions", "client", 1},
		{"podwire_mux_sessions", "server", 1},
		{"podwire_mux_streams_open", "outbound", 1},
		{"podwire_mux_streams_open", "inbound", 1},
		{"podwire_mux_streams_opened_total", "inbound", 1},
		{"podwire_mux_sessions_killed_total", "ping_flood", 1},
		{"podwire_mux_rtt_seconds", "", 1},
	}
	for _, tt := range tests {
		got, ok := gatherValue(t, reg, tt.metric, tt.label)
		if !ok || (tt.label != "" && got != tt.want) || (tt.label == "" && got < tt.want) {
			t.Errorf("%s{%s} = %v (found %v), want %v", tt.metric, tt.label, got, ok, tt.want)
		}
	}
	if got, _ := gatherValue(t, reg, "podwire_mux_bytes_total", "out"); got <= 0 {
		t.Errorf("podwire_mux_bytes_total{direction=out} = %v, want > 0", got)
	}
}

func TestConflictingRegistrationPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "podwire_mux_sessions", Help: "other"}))
	defer func() {
		if recover() == nil {
			t.Error("New on a registry with a conflicting podwire_mux_sessions did not panic")
		}
	}()
	muxprom.New(reg)
}

// gatherValue returns the value of the series of name whose only label has
// value label (any series if label is ""); histograms give their count.
func gatherValue(tb testing.TB, reg *prometheus.Registry, name, label string) (float64, bool) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// Sessions report to collectors on a registry the caller owns.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	cfg := mux.Config{Metrics: muxprom.New(reg)}
	a, b := net.Pipe()
	client, err := mux.Client(a, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	server, err := mux.Server(b, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "podwire_mux_sessions" {
			for _, m := range mf.GetMetric() {
				fmt.Println(m.GetLabel()[0].GetValue(), m.GetGauge().GetValue())
			}
		}
	}
	client.Close()
	server.Close()
	// Output:
	// client 1
	// server 1
}
