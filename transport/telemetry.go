package transport

import (
	"context"
	"fmt"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// HandlingBuckets are the bucket bounds, in seconds, of
// grpc_server_handling_seconds: from 0.5 ms (a call over a Unix socket) to
// 120 s, so long server streams and slow calls up to a minute are measured
// rather than lumped into +Inf.
var HandlingBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// WithHealthToAll sets whether grpc.health.v1.Health and server reflection
// (grpc.reflection.v1 and v1alpha) answer every authenticated peer (any
// Unix socket peer whose credentials the kernel reported, any TLS peer
// whose certificate the CA signed) whatever WithAllow says, so probes and
// grpcurl work against a server with a strict allow-list. Default true;
// false puts them under the allow-list like every other method.
// Plaintext TCP peers are never authenticated and always go through the
// allow-list.
func WithHealthToAll(on bool) ServerOption {
	return serverOptionFunc(func(c *serverConfig) error { c.restrictHealth = !on; return nil })
}

// WithMetrics registers the server's Prometheus collectors on reg and adds
// their interceptors (outermost, so denied calls are counted too):
//
//	grpc_server_started_total, grpc_server_handled_total{grpc_code},
//	grpc_server_msg_received_total, grpc_server_msg_sent_total and
//	grpc_server_handling_seconds (HandlingBuckets), the standard names of
//	go-grpc-middleware's provider, each labelled grpc_type (unary,
//	client_stream, server_stream, bidi_stream), grpc_service, grpc_method
//	and transport (unix, tls, mux+tls, tcp: see Kind);
//	podwire_authz_denied_total{transport,method}: calls the allow-list
//	refused (their WARN lines are rate-limited to one per peer per 10 s).
//
// Registering fails if reg already holds them (one WithMetrics per
// registry). Without it nothing is counted.
func WithMetrics(reg prometheus.Registerer) ServerOption {
	return serverOptionFunc(func(c *serverConfig) error {
		if reg == nil {
			return configError("WithMetrics", "registerer is nil")
		}
		c.reg = reg
		return nil
	})
}

// serverMetrics are the collectors WithMetrics registers.
type serverMetrics struct {
	rpc    *grpcprom.ServerMetrics
	denied *prometheus.CounterVec
}

// newServerMetrics builds and registers the collectors on reg.
func newServerMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	m := &serverMetrics{
		rpc: grpcprom.NewServerMetrics(
			grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(HandlingBuckets)),
			grpcprom.WithContextLabels("transport"),
		),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_authz_denied_total",
			Help: "Calls refused with PermissionDenied by the allow-list, by transport and full method.",
		}, []string{"transport", "method"}),
	}
	for _, c := range []prometheus.Collector{m.rpc, m.denied} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("%w: WithMetrics: %v (use one registry per server)", ErrBadConfig, err)
		}
	}
	return m, nil
}

// transportLabel gives the transport label of an RPC from its peer.
func transportLabel(ctx context.Context) prometheus.Labels {
	pr, _ := PeerFrom(ctx)
	return prometheus.Labels{"transport": pr.Transport.String()}
}

// options returns the metric interceptors.
func (m *serverMetrics) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.rpc.UnaryServerInterceptor(grpcprom.WithLabelsFromContext(transportLabel))),
		grpc.ChainStreamInterceptor(m.rpc.StreamServerInterceptor(grpcprom.WithLabelsFromContext(transportLabel))),
	}
}
