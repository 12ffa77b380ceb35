package inventory

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/host"
)

// ServiceName is the socket and dial name of the inventory service.
const ServiceName = "inventory"

// Run serves inventory as cfg says (cfg.Service defaults to "inventory")
// until ctx ends, then stops gracefully and closes the data file. With
// cfg.Seed it first loads DemoStock into SKUs that do not exist yet. ready,
// if not nil, is called with the bound addresses once RPCs are accepted.
func Run(ctx context.Context, cfg host.Config, ready func(host.Addrs)) error {
	if cfg.Service == "" {
		cfg.Service = ServiceName
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	st, err := OpenStore(cfg.DataPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.Seed {
		n, err := st.Seed(DemoStock())
		if err != nil {
			return err
		}
		if cfg.Logger != nil {
			cfg.Logger.Info("seeded demo stock", "items_created", n)
		}
	}
	reg := prometheus.NewRegistry()
	srv, err := NewServer(st, WithLogger(cfg.Logger), WithMetrics(NewMetrics(reg)))
	if err != nil {
		return err
	}
	defer srv.Close()
	return host.Run(ctx, cfg, reg, host.Service{
		HealthName: inventoryv1.InventoryService_ServiceDesc.ServiceName,
		Register:   srv.Register,
		Shutdown:   srv.Shutdown,
	}, ready)
}
