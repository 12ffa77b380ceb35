//go:build linux

package sidecar

import (
	"context"
	"net"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestPairSocketsUseRawIO: while a call is proxied, every connection the
// two sidecars hold (app A's accepted conn, the inbound mux TLS conn, the
// conn B dials to app B) does its socket I/O with raw syscalls
// (internal/rawio). With plain net.Conn I/O each sidecar woke the Go
// runtime's monitor thread twice per call: 23 instead of 18 wake-ups per
// call for the pair as deployed (docs/benchmarks.md). Fails if any path
// hands out a plain *net.UnixConn or *net.TCPConn.
func TestPairSocketsUseRawIO(t *testing.T) {
	p := newPair(t, pairOpts{})
	waitReady(t, p.a)
	cc := p.dialApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A Watch holds its stream open, so every conn of the path is tracked
	// while we look.
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "inventory"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatalf("Watch through the pair: %v", err)
	}
	for side, s := range map[string]*Sidecar{"A": p.a, "B": p.b} {
		s.mu.Lock()
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		if len(conns) == 0 {
			t.Errorf("sidecar %s tracks no conn during a call", side)
		}
		for _, c := range conns {
			sock := c
			for {
				u, ok := sock.(interface{ NetConn() net.Conn })
				if !ok {
					break
				}
				sock = u.NetConn()
			}
			if _, ok := sock.(interface{ Unwrap() net.Conn }); !ok {
				t.Errorf("sidecar %s: conn %T has socket %T, want a rawio conn (raw-syscall I/O)", side, c, sock)
			}
		}
	}
}
