package integration

import (
	"context"
	"testing"
	"time"
)

// Timing of scenario 4.
const (
	faultRate      = 20              // orders per second from the test client
	faultWarmup    = 2 * time.Second // orders flow before each fault
	faultAfter     = 7 * time.Second // orders keep flowing after the peer's return
	recoveryBudget = 5 * time.Second // the product promise
	killOutage     = 2 * time.Second // inventory stays dead this long
	faultQuiet     = 500 * time.Millisecond
)

// logTime formats instants like the containers' logs, to line them up.
const logTime = "15:04:05.000"

// deadPeerBound is how long a silent peer can go unnoticed by the mux
// keepalive at most: one interval until the ping, one timeout for the pong.
// Faults that silence pod B last longer, so pod A must notice.
func deadPeerBound() time.Duration {
	return suiteKeepAliveInterval + suiteKeepAliveTimeout + time.Second
}

// fault is one failure injected while orders flow. inject returns when the
// peer is back, with that moment. silences says pod A's session to pod B
// went silent for longer than the keepalive bound, so it must have been
// replaced.
type fault struct {
	name     string
	inject   func(t *testing.T, s *shop) (back time.Time)
	silences bool
}

// TestFaults is scenario 4: orders flow at a steady rate, each retried by
// the client under its own idempotency key until accepted, while pod B
// fails in three ways. After each fault: every accepted order exists once,
// stock matches the confirmed orders, and orders succeed again within
// recoveryBudget of the peer's return (measured).
func TestFaults(t *testing.T) {
	s := newShop(t)
	faults := []fault{
		{name: "sigkill-inventory", inject: killInventory},
		{name: "pause-sidecar-b", inject: pauseSidecarB, silences: true},
		{name: "disconnect-pod-b", inject: disconnectPodB, silences: true},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			before, err := stockOf(ctx, s.invc)
			if err != nil {
				t.Fatal(err)
			}
			l := startSteady(t, s.pur, "fault-"+f.name, faultRate, s.sku)
			time.Sleep(faultWarmup)
			if n, sample := l.failuresStartedAfter(time.Time{}); n > 0 {
				t.Fatalf("%d orders failed before the fault: %v", n, sample)
			}
			injected := time.Now()
			back := f.inject(t, s)
			time.Sleep(faultAfter)
			l.stop()

			rec, ok := l.recovery(back)
			t.Logf("%s: peer gone %s → back %s (%s); first order after its return succeeded %s later; %s",
				f.name, injected.UTC().Format(logTime), back.UTC().Format(logTime), back.Sub(injected).Round(time.Millisecond),
				rec.Round(time.Millisecond), l.summary())
			if !ok || rec > recoveryBudget {
				t.Errorf("recovery after %s took %s (ok %v), want ≤ %s", f.name, rec, ok, recoveryBudget)
			}
			if n, sample := l.failuresStartedAfter(back.Add(recoveryBudget)); n > 0 {
				t.Errorf("%d order attempts started more than %s after the peer's return failed, want 0: %v", n, recoveryBudget, sample)
			}
			if f.silences {
				checkSessionReplaced(t, s, injected)
			}
			checkOrders(t, s.pur, s.invc, l, before)
			time.Sleep(faultQuiet)
		})
	}
}

// killInventory SIGKILLs inventory (no drain, no socket cleanup) and
// starts a new one on the same data file after killOutage. The peer is
// back when its socket accepts.
func killInventory(t *testing.T, s *shop) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := signal(ctx, s.inv, "SIGKILL"); err != nil {
		t.Fatalf("SIGKILL inventory: %v", err)
	}
	if code := waitExit(ctx, t, s.inv); code != 137 {
		t.Errorf("inventory exit code after SIGKILL = %d, want 137", code)
	}
	time.Sleep(killOutage)
	began := time.Now()
	s.inv = s.startInventory(t)
	back := time.Now()
	t.Logf("new inventory container accepted on its socket %s after its start was requested", back.Sub(began).Round(time.Millisecond))
	return back
}

// pauseSidecarB freezes pod B's sidecar for longer than pod A's keepalive
// needs to declare the session dead, then thaws it; pod A must replace the
// dead session rather than wait on it.
func pauseSidecarB(t *testing.T, s *shop) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pause(ctx, s.sideB); err != nil {
		t.Fatalf("pausing pod B's sidecar: %v", err)
	}
	t.Cleanup(func() { _ = unpause(context.Background(), s.sideB) }) // a failed test must not leave it frozen
	time.Sleep(deadPeerBound())
	if err := unpause(ctx, s.sideB); err != nil {
		t.Fatalf("unpausing pod B's sidecar: %v", err)
	}
	return time.Now()
}

// disconnectPodB takes pod B's sidecar off the network for longer than the
// keepalive bound and puts it back under the same alias (its address may
// change, as a rescheduled pod's does).
func disconnectPodB(t *testing.T, s *shop) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := disconnect(ctx, s.sideB, s.net); err != nil {
		t.Fatalf("disconnecting pod B's sidecar: %v", err)
	}
	time.Sleep(deadPeerBound())
	if err := reconnect(ctx, s.sideB, s.net, invAlias); err != nil {
		t.Fatalf("reconnecting pod B's sidecar: %v", err)
	}
	return time.Now()
}

// checkSessionReplaced checks pod A's sidecar holds one outbound session,
// opened after the fault began: the silenced one was detected and dropped.
func checkSessionReplaced(t *testing.T, s *shop, faultAt time.Time) {
	snap := s.a.snapshot(t, adminOfPod)
	var ages []float64
	for _, si := range snap.Sessions {
		if si.Direction == "outbound" {
			ages = append(ages, si.AgeSecs)
		}
	}
	since := time.Since(faultAt).Seconds()
	if len(ages) != 1 || ages[0] >= since {
		t.Errorf("pod A's outbound sessions have ages %v s; want one, younger than the %.1f s since the fault", ages, since)
	}
}
