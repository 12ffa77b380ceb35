package transport

import (
	"context"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// GracefulStop closes the Listener first; a stream on a mux session must
// keep working until it ends, and Shutdown must then see the session drain.
func TestGracefulStopDrainsMuxStream(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	s := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, certDir, "inventory"))
	s.health.SetServingStatus("inv", healthpb.HealthCheckResponse_SERVING)
	cc := dialT(t, "inventory", WithSocketDir(shortTempDir(t)), tlsFiles(certDir, "client"),
		WithPeerAddr("inventory", s.ln.TLSAddr().String()))
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	stream, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "inv"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Recv: %v", err)
	}
	stopped := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(stopped)
	}()
	// Wait until the listener is closed (GracefulStop's first step).
	deadline := time.Now().Add(5 * time.Second)
	for !s.ln.closed() {
		if time.Now().After(deadline) {
			t.Fatal("GracefulStop did not close the listener")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.health.SetServingStatus("inv", healthpb.HealthCheckResponse_NOT_SERVING)
	if r, err := stream.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("stream during GracefulStop: Recv = %v, %v; want NOT_SERVING", r, err)
	}
	cancel() // the client ends its stream; GracefulStop can finish
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop did not return after the last stream ended")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := s.ln.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown after GracefulStop = %v, want the mux session drained", err)
	}
}
