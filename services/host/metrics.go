package host

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/podwire/podwire/transport"
)

// registerMetrics registers the Go and process collectors and podwire
// transport's collectors on reg. The RPC metrics (grpc_server_*, the
// standard gRPC names, and podwire_authz_denied_total) come from
// transport.WithMetrics; they replace podwire_service_rpcs_total and
// podwire_service_rpc_seconds.
func registerMetrics(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	for _, c := range append(cs, transport.Collectors()...) {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
