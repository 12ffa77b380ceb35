package host

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/podwire/podwire/transport"
)

// rpcMetrics counts RPCs served, by method and code, and their latency.
type rpcMetrics struct {
	total   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// newRPCMetrics registers podwire_service_rpcs_total{method,code},
// podwire_service_rpc_seconds{method}, the Go and process collectors and
// podwire transport's collectors on reg.
func newRPCMetrics(reg prometheus.Registerer) (*rpcMetrics, error) {
	m := &rpcMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwire_service_rpcs_total", Help: "RPCs served, by full method and status code.",
		}, []string{"method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podwire_service_rpc_seconds", Help: "Time to serve an RPC, by full method.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}, []string{"method"}),
	}
	cs := []prometheus.Collector{m.total, m.seconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	for _, c := range append(cs, transport.Collectors()...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *rpcMetrics) observe(method string, start time.Time, err error) {
	m.total.WithLabelValues(method, status.Code(err).String()).Inc()
	m.seconds.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

func (m *rpcMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	m.observe(info.FullMethod, start, err)
	return resp, err
}

func (m *rpcMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	m.observe(info.FullMethod, start, err)
	return err
}
