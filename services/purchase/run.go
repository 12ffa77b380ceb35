package purchase

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/transport"
)

// ServiceName is the socket and dial name of the purchase service.
const ServiceName = "purchase"

// InventoryName is the name purchase dials inventory by.
const InventoryName = "inventory"

// Run serves purchase as cfg says (cfg.Service defaults to "purchase")
// until ctx ends, then stops gracefully and closes the data file.
// Inventory is reached with transport.Dial(ctx, "inventory") — its socket
// in cfg.SocketDir when co-located, else TCP+TLS to PODWIRE_PEER_INVENTORY
// with cfg's certificate files — retried until it resolves or ctx ends.
// Orders a crash left pending are finished in the background. ready, if not
// nil, is called with the bound addresses once RPCs are accepted.
func Run(ctx context.Context, cfg host.Config, ready func(host.Addrs)) error {
	if cfg.Service == "" {
		cfg.Service = ServiceName
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := OpenStore(cfg.DataPath)
	if err != nil {
		return err
	}
	defer st.Close()
	cc, err := dialInventory(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer cc.Close()
	reg := prometheus.NewRegistry()
	srv, err := NewServer(st, inventoryv1.NewInventoryServiceClient(cc), WithLogger(log), WithMetrics(NewMetrics(reg)))
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if n, err := srv.Recover(rctx); n > 0 || err != nil {
			log.Info("recovered pending orders", "confirmed", n, "err", err)
		}
	})
	return host.Run(ctx, cfg, reg, host.Service{
		HealthName: purchasev1.PurchaseService_ServiceDesc.ServiceName,
		Register:   srv.Register,
	}, ready)
}

// dialInventory calls transport.Dial for inventory until the name resolves
// (its socket appears or a peer address is configured) or ctx ends.
func dialInventory(ctx context.Context, cfg host.Config, log *slog.Logger) (*grpc.ClientConn, error) {
	var opts []transport.DialOption
	if cfg.SocketDir != "" {
		opts = append(opts, transport.WithSocketDir(cfg.SocketDir))
	}
	if cfg.CertFile != "" {
		opts = append(opts, transport.WithTLSFiles(cfg.CertFile, cfg.KeyFile, cfg.CAFile))
	}
	opts = append(opts, transport.WithLogger(log))
	wait := 50 * time.Millisecond
	for {
		cc, err := transport.Dial(ctx, InventoryName, opts...)
		if err == nil {
			return cc, nil
		}
		log.Warn("inventory not reachable yet; retrying", "err", err, "wait", wait)
		if serr := sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("podwire/purchase: reach %s: %w (last error: %v); start inventory or set PODWIRE_PEER_INVENTORY", InventoryName, serr, err)
		}
		wait = min(2*wait, 2*time.Second)
	}
}
