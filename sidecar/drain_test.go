package sidecar

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// TestDrainGoAway: Shutdown of either sidecar of a pair (A faces the
// calling app's client on its socket, B reaches it through the mux and A)
// sends HTTP/2 GOAWAY to the app's client, so a call in flight completes
// and the drain ends as soon as the client hangs up, far below a 20s
// drain_timeout, with idle-but-open connections as well.
func TestDrainGoAway(t *testing.T) {
	for _, tc := range []struct {
		name     string
		side     func(*pair) *Sidecar
		inFlight bool
	}{
		{"outbound A, idle connections", func(p *pair) *Sidecar { return p.a }, false},
		{"outbound A, call in flight", func(p *pair) *Sidecar { return p.a }, true},
		{"inbound B, idle connections", func(p *pair) *Sidecar { return p.b }, false},
		{"inbound B, call in flight", func(p *pair) *Sidecar { return p.b }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, pairOpts{drain: 20 * time.Second})
			waitReady(t, p.a)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			var ccs []*grpc.ClientConn
			for range 5 {
				cc := p.dialApp(t)
				if err := callSleep(ctx, cc, 0); err != nil { // open the connection
					t.Fatal(err)
				}
				ccs = append(ccs, cc)
			}
			callErr := make(chan error, 1)
			if tc.inFlight {
				go func() { callErr <- callSleep(ctx, ccs[0], 400) }()
				time.Sleep(100 * time.Millisecond)
			} else {
				callErr <- nil
			}
			s := tc.side(p)
			start := time.Now()
			dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer dcancel()
			if err := s.Shutdown(dctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			took := time.Since(start)
			if err := <-callErr; err != nil {
				t.Fatalf("call in flight at Shutdown: %v", err)
			}
			if took > 2*time.Second {
				t.Errorf("drain took %v, want < 2s with drain_timeout 20s", took)
			}
			if got := metricSum(t, s, "podwire_sidecar_goaways_injected_total"); got < 5 {
				t.Errorf("GOAWAYs injected = %v, want ≥ 5 (one per connection at least)", got)
			}
			if got := counterValue(t, s, "podwire_sidecar_drains_total", "event", "finished"); got != 1 {
				t.Errorf("drains finished = %v, want 1", got)
			}
			t.Logf("drain with %d connections took %v", len(ccs), took.Round(time.Millisecond))
		})
	}
}

// metricSum sums every counter of the metric family name.
func metricSum(t testing.TB, s *Sidecar, name string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
