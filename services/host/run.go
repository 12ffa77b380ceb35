package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/podwire/podwire/internal/statusapi"
	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/mux/muxprom"
	"github.com/podwire/podwire/transport"
)

// Service is what a sample service hands to Run.
type Service struct {
	// HealthName is the full gRPC service name reported by grpc.health.v1
	// besides the overall "" entry, e.g. "podwire.inventory.v1.InventoryService".
	HealthName string
	// Register registers the service's handlers.
	Register func(grpc.ServiceRegistrar)
	// Shutdown, if set, is called when the stop begins, before
	// GracefulStop, to end streams that never end on their own.
	Shutdown func(context.Context) error
	// Ready, if set, decides readiness: Run opens the socket at once but
	// reports NOT_SERVING (and /readyz 503) until Ready calls set(true),
	// and again whenever it calls set(false); nil means ready as soon as
	// the socket is open. Run calls Ready in its own goroutine with a ctx
	// that ends when the stop begins, and waits for it to return.
	Ready func(ctx context.Context, set func(ready bool))
}

// Addrs are where a running service can be reached.
type Addrs struct {
	Socket string   // the Unix socket path
	TLS    net.Addr // the TLS listener, nil without TLSListen
	Admin  net.Addr // the admin endpoint, nil without AdminAddr
}

// Run serves svc as cfg says until ctx ends, then stops gracefully: health
// turns NOT_SERVING and /readyz fails, svc.Shutdown runs, in-flight RPCs
// get up to cfg.ShutdownTimeout, and the socket file is removed. reg
// receives the RPC metrics (transport.WithMetrics: grpc_server_* and
// podwire_authz_denied_total), the Go, process and transport metrics; ready, if not nil,
// is called once with the bound addresses when the service accepts RPCs.
// Run returns nil after a stop caused by ctx.
func Run(ctx context.Context, cfg Config, reg *prometheus.Registry, svc Service, ready func(Addrs)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := registerMetrics(reg); err != nil {
		return fmt.Errorf("podwire/host: register metrics: %w", err)
	}
	sopts, err := transport.ServerOptions(transport.WithAllow(cfg.Allow...), transport.WithServerLogger(log),
		transport.WithHealthToAll(!cfg.HealthUnderAllow), transport.WithMetrics(reg))
	if err != nil {
		return err
	}
	gs := grpc.NewServer(append(sopts, cfg.ServerOptions...)...)
	svc.Register(gs)
	stopping, beginStop := context.WithCancel(context.Background())
	defer beginStop()
	hs := &healthServer{Server: health.NewServer(), stopping: stopping}
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)

	hf, err := transport.NewHandshakeFailures(reg)
	if err != nil {
		return fmt.Errorf("podwire/host: register metrics: %w", err)
	}
	muxCfg := mux.DefaultConfig()
	muxCfg.Metrics = muxprom.New(reg) // podwire_mux_* of the sessions on the TLS port
	lis, err := transport.Listen(ctx, transport.ListenConfig{
		Service: cfg.Service, SocketDir: cfg.SocketDir, TLSAddr: cfg.TLSListen,
		CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CAFile: cfg.CAFile, Logger: log,
		Mux: muxCfg, OnHandshakeError: hf.Observe,
	})
	if err != nil {
		return err
	}
	defer lis.Close()
	var isReady atomic.Bool
	addrs := Addrs{Socket: lis.SocketPath(), TLS: lis.TLSAddr()}
	if cfg.AdminAddr != "" {
		started := time.Now()
		snap := func(admin net.Addr) statusapi.Snapshot { return snapshot(cfg, lis, &isReady, started, admin) }
		a, err := startAdmin(cfg.AdminAddr, reg, &isReady, snap, log)
		if err != nil {
			return fmt.Errorf("podwire/host: admin endpoint %s: %w", cfg.AdminAddr, err)
		}
		defer a.close(context.Background())
		addrs.Admin = a.Addr()
	}
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	setReady, halt := readiness(hs, svc.HealthName, &isReady)
	if svc.Ready == nil {
		setReady(true)
	} else {
		setReady(false)
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.Ready(stopping, setReady)
		}()
		defer func() { <-done }()
	}
	log.Info("serving", "service", cfg.Service, "socket", addrs.Socket, "tls", addrs.TLS, "admin", addrs.Admin, "ready", svc.Ready == nil)
	if ready != nil {
		ready(addrs)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		served <- serveErr
	}
	halt()
	beginStop()
	stop(gs, svc, cfg, log)
	if err := <-served; serveErr == nil && err != nil {
		serveErr = err
	}
	log.Info("stopped", "service", cfg.Service)
	return serveErr
}

// readiness returns set, which sets health and /readyz, and halt, which
// turns both off for good (the stop): a set after halt does nothing.
func readiness(hs *healthServer, name string, isReady *atomic.Bool) (set func(bool), halt func()) {
	var mu sync.Mutex // guards halted and orders the updates
	halted := false
	halt = func() {
		mu.Lock()
		defer mu.Unlock()
		halted = true
		isReady.Store(false)
		hs.Shutdown()
	}
	set = func(ready bool) {
		mu.Lock()
		defer mu.Unlock()
		if halted {
			return
		}
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if ready {
			st = healthpb.HealthCheckResponse_SERVING
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(name, st)
		isReady.Store(ready)
	}
	return set, halt
}

// stop drains gs within cfg.ShutdownTimeout, then cuts it off.
func stop(gs *grpc.Server, svc Service, cfg Config, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout())
	defer cancel()
	if svc.Shutdown != nil {
		if err := svc.Shutdown(ctx); err != nil {
			log.Warn("service shutdown", "service", cfg.Service, "err", err)
		}
	}
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		log.Warn("graceful stop timed out; cutting off in-flight RPCs", "service", cfg.Service, "timeout", cfg.shutdownTimeout())
		gs.Stop()
		<-done
	}
}
