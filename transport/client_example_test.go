package transport_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/transport"
)

// A Client owns what its channels share: mux pools to remote peers, loaded
// certificates, socket-dir watches, client mux tuning and metrics. Make one
// when the defaults of transport.Dial (DefaultClient) do not fit, and
// Close it to release everything.
func ExampleClient() {
	dir, _ := os.MkdirTemp("", "podwire")
	defer os.RemoveAll(dir)
	ln, _ := transport.Listen(context.Background(), transport.ListenConfig{Service: "inventory", SocketDir: dir})
	opts, _ := transport.ServerOptions()
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	reg := prometheus.NewRegistry()
	client, err := transport.NewClient(
		transport.WithSocketDir(dir), // defaults of every Dial of this Client
		transport.WithLogger(slog.New(slog.DiscardHandler)),
		transport.WithMuxPool(mux.PoolConfig{MaxStreamsPerSession: 256}),
		transport.WithRegisterer(reg),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	cc, err := client.Dial(context.Background(), "inventory")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cc.Close()
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		fmt.Println(err)
		return
	}
	who, _ := transport.PeerOf(&p)
	fmt.Println(resp.Status, "over", who.Transport)
	// Output: SERVING over unix
}
