package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"google.golang.org/grpc/status"

	"github.com/podwire/podwire/sidecar"
)

// Timing of scenario 6.
const (
	rollWorkers = 16              // orders always in flight from the test
	rollDrain   = 5 * time.Second // pod B's sidecar drain_timeout
	rollWarmup  = 2 * time.Second
	rollAfter   = 3 * time.Second // orders keep flowing after the old sidecar exits
)

// TestRollingRestart is scenario 6: pod B's sidecar is replaced while
// orders flow: a new one joins under the same network alias, then the old
// one gets SIGTERM and drains. The test client does not retry (purchase's
// own retries are part of the product): no order that was in flight at
// SIGTERM may fail, nor any other.
func TestRollingRestart(t *testing.T) {
	s := newShop(t, func(c *sidecar.Config) { c.DrainTimeout = rollDrain })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before, err := stockOf(ctx, s.invc)
	if err != nil {
		t.Fatal(err)
	}

	l := startClosedLoop(t, s.pur, "rolling", rollWorkers, s.sku)
	time.Sleep(rollWarmup)

	conf2 := s.sideBC
	conf2.Admin = "unix:/run/podwire/podwire-admin-2.sock" // the old one still holds the pod's admin socket
	s.b.startSidecar(t, sidecarSpec{
		name: "sidecar-b2", conf: conf2, tlsDir: s.tls,
		opts: []testcontainers.ContainerCustomizer{onNetwork(s.net, invAlias)},
	})

	sigterm := time.Now()
	if err := signal(ctx, s.sideB, "SIGTERM"); err != nil {
		t.Fatalf("SIGTERM to pod B's sidecar: %v", err)
	}
	code := waitExit(ctx, t, s.sideB)
	exited := time.Now()
	drained := exited.Sub(sigterm)
	if code != 0 {
		t.Errorf("the old sidecar exited with code %d after SIGTERM, want 0", code)
	}
	if drained > rollDrain+2*time.Second {
		t.Errorf("the old sidecar took %s to exit after SIGTERM, want within its drain_timeout %s (+2s)", drained, rollDrain)
	}
	time.Sleep(rollAfter)
	l.stop()

	inFlight, inFlightFailed, atExit, failed := 0, 0, 0, 0
	var sample []string
	for _, a := range l.results() {
		spans := func(at time.Time) bool { return a.start.Before(at) && a.end.After(at) }
		if spans(sigterm) {
			inFlight++
		}
		if spans(exited) {
			atExit++
		}
		if a.err == nil {
			continue
		}
		failed++
		if spans(sigterm) {
			inFlightFailed++
		}
		if len(sample) < 5 {
			sample = append(sample, fmt.Sprintf("%s at SIGTERM%+v: %v (%v)", a.key, a.start.Sub(sigterm).Round(time.Millisecond), a.err, status.Code(a.err)))
		}
	}
	t.Logf("rolling restart: %d orders in flight at SIGTERM, %d when the old sidecar exited %s later; %s",
		inFlight, atExit, drained.Round(time.Millisecond), l.summary())
	if inFlight == 0 {
		t.Errorf("no order was in flight at SIGTERM: the load did not overlap the restart")
	}
	if inFlightFailed > 0 {
		t.Errorf("%d of the %d orders in flight at SIGTERM failed, want 0: %v", inFlightFailed, inFlight, sample)
	}
	if failed > 0 {
		t.Errorf("%d orders failed during the rolling restart, want 0: %v", failed, sample)
	}

	snap := s.b.snapshot(t, conf2.Admin)
	if got := inboundFrom(snap, spiffeOf("purchase")); len(got) != 1 {
		t.Errorf("the new sidecar has %d inbound sessions from pod A, want 1: %+v", len(got), snap.Sessions)
	}
	checkOrders(t, s.pur, s.invc, l, before)
}
