//go:build linux

package transport

import (
	"fmt"
	"net"
	"os"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestDialAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("podwire-test-%d", os.Getpid())
	ln, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatalf("listen @%s: %v", name, err)
	}
	opts, err := ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	p, err := check(t, dialT(t, "unix-abstract:"+name))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if p.Transport != KindUnix || p.PID != os.Getpid() {
		t.Errorf("peer = %v pid %d, want unix pid %d", p.Transport, p.PID, os.Getpid())
	}
}
