package host

import (
	"context"

	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthServer is grpc's health server whose Watch streams end when the
// stop begins: they never end on their own, and a graceful stop would
// otherwise wait its whole deadline for them.
type healthServer struct {
	*health.Server
	stopping context.Context // cancelled when the stop begins
}

// Watch streams status changes until the client leaves or the stop begins.
func (h *healthServer) Watch(req *healthpb.HealthCheckRequest, stream healthgrpc.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	unhook := context.AfterFunc(h.stopping, cancel)
	defer unhook()
	return h.Server.Watch(req, &watchStream{Health_WatchServer: stream, ctx: ctx})
}

// watchStream overrides the context of a Watch stream.
type watchStream struct {
	healthgrpc.Health_WatchServer
	ctx context.Context
}

func (w *watchStream) Context() context.Context { return w.ctx }
