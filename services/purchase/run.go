package purchase

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

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
//
// Purchase opens its socket at once and reports not ready (grpc health
// NOT_SERVING, /readyz 503) until inventory is reachable and its health
// says SERVING, and again whenever it stops being so; calls made meanwhile
// wait for inventory within their deadline and then fail Unavailable.
// Inventory is cfg.Inventory (default "inventory": its socket in
// cfg.SocketDir when co-located, else TCP+TLS to PODWIRE_PEER_INVENTORY
// with cfg's certificate files), dialled with transport.Dial. Each time
// inventory becomes reachable, orders left pending are finished in the
// background. ready, if not nil, is called with the bound addresses once
// RPCs are accepted.
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
	target := cfg.Inventory
	if target == "" {
		target = InventoryName
	}
	inv, err := newInventoryConn(ctx, target, inventoryDialOptions(cfg, log), log)
	if err != nil {
		return fmt.Errorf("podwire/purchase: --inventory %q: %w", target, err)
	}
	defer inv.Close()
	reg := prometheus.NewRegistry()
	srv, err := NewServer(st, inventoryv1.NewInventoryServiceClient(inv), WithLogger(log), WithMetrics(NewMetrics(reg)))
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var recovering atomic.Bool
	return host.Run(ctx, cfg, reg, host.Service{
		HealthName: purchasev1.PurchaseService_ServiceDesc.ServiceName,
		Register:   srv.Register,
		Ready: func(rctx context.Context, set func(bool)) {
			inv.watch(rctx, set, func() {
				if !recovering.CompareAndSwap(false, true) {
					return
				}
				wg.Go(func() {
					defer recovering.Store(false)
					if n, err := srv.Recover(rctx); n > 0 || err != nil {
						log.Info("recovered pending orders", "confirmed", n, "err", err)
					}
				})
			})
		},
	}, ready)
}

// inventoryDialOptions are the transport options purchase reaches
// inventory with: cfg's socket dir and certificate files, and its logger.
func inventoryDialOptions(cfg host.Config, log *slog.Logger) []transport.DialOption {
	var opts []transport.DialOption
	if cfg.SocketDir != "" {
		opts = append(opts, transport.WithSocketDir(cfg.SocketDir))
	}
	if cfg.CertFile != "" {
		opts = append(opts, transport.WithTLSFiles(cfg.CertFile, cfg.KeyFile, cfg.CAFile))
	}
	opts = append(opts, cfg.DialOptions...)
	return append(opts, transport.WithLogger(log))
}
