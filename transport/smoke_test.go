package transport

import (
	"testing"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

func TestSmokeUnix(t *testing.T) {
	dir := shortTempDir(t)
	startServer(t, ListenConfig{Service: "inventory", SocketDir: dir})
	cc := dialT(t, "inventory", WithSocketDir(dir))
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(cc).Check(ctxT(t), &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	got, ok := PeerOf(&p)
	t.Logf("resp=%v peer=%+v ok=%v", resp, got, ok)
}
