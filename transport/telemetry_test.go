package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

// echoDesc is a test service with one unary method that is never public.
var echoDesc = grpc.ServiceDesc{
	ServiceName: "test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Echo", Handler: func(_ any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
		req := new(emptypb.Empty)
		if err := dec(req); err != nil {
			return nil, err
		}
		h := func(context.Context, any) (any, error) { return req, nil }
		if in == nil {
			return h(ctx, req)
		}
		return in(ctx, req, &grpc.UnaryServerInfo{FullMethod: "/test.Echo/Echo"}, h)
	}}},
}

// echo calls test.Echo/Echo on cc.
func echo(tb testing.TB, cc *grpc.ClientConn) error {
	tb.Helper()
	return cc.Invoke(ctxT(tb), "/test.Echo/Echo", &emptypb.Empty{}, &emptypb.Empty{})
}

// startFullServer serves health, reflection and test.Echo on a Listener
// as cfg says with ServerOptions(sopts...); Cleanup stops it.
func startFullServer(tb testing.TB, cfg ListenConfig, sopts ...ServerOption) *Listener {
	tb.Helper()
	cfg.Logger = testLogger(tb)
	ln, err := Listen(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	opts, err := ServerOptions(append([]ServerOption{WithServerLogger(cfg.Logger)}, sopts...)...)
	if err != nil {
		ln.Close()
		tb.Fatalf("ServerOptions: %v", err)
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	srv.RegisterService(&echoDesc, struct{}{})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		hs.Shutdown()
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("Serve: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ln.Shutdown(ctx); err != nil {
			tb.Errorf("Listener.Shutdown: %v", err)
		}
	})
	return ln
}

// deniedClient starts a server whose allow-list excludes the test's
// client over kind (unix: another uid; tls: another SPIFFE ID) and dials it.
func deniedClient(tb testing.TB, kind Kind, sopts ...ServerOption) *grpc.ClientConn {
	tb.Helper()
	notMe := "uid:" + strconv.Itoa(os.Getuid()+4242)
	sopts = append([]ServerOption{WithAllow(notMe, "spiffe://podwire.local/purchase")}, sopts...)
	if kind == KindUnix {
		ln := startFullServer(tb, ListenConfig{Service: "inventory", SocketDir: shortTempDir(tb)}, sopts...)
		return dialT(tb, "unix://"+ln.SocketPath())
	}
	dir := testCertDir(tb, "inventory", "client")
	ln := startFullServer(tb, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, dir, "inventory"), sopts...)
	if kind == KindMuxTLS {
		return dialT(tb, "inventory", WithSocketDir(shortTempDir(tb)), tlsFiles(dir, "client"),
			WithPeerAddr("inventory", ln.TLSAddr().String()))
	}
	return dialT(tb, "tls://"+ln.TLSAddr().String(), tlsFiles(dir, "client"), WithServerName("inventory"))
}

// TestHealthToAll: a peer the allow-list denies still gets health and
// reflection over every authenticated transport, unless
// WithHealthToAll(false); other methods stay PermissionDenied.
func TestHealthToAll(t *testing.T) {
	for _, kind := range []Kind{KindUnix, KindTLS, KindMuxTLS} {
		for _, open := range []bool{true, false} {
			t.Run(kind.String()+"/health-to-all="+strconv.FormatBool(open), func(t *testing.T) {
				var sopts []ServerOption
				if !open {
					sopts = append(sopts, WithHealthToAll(false))
				}
				cc := deniedClient(t, kind, sopts...)
				wantPublic := codes.OK
				if !open {
					wantPublic = codes.PermissionDenied
				}
				resp, err := healthpb.NewHealthClient(cc).Check(ctxT(t), &healthpb.HealthCheckRequest{})
				wantCode(t, err, wantPublic)
				if open && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Errorf("health status = %v, want SERVING", resp.GetStatus())
				}
				rs, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctxT(t))
				if err == nil {
					err = rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
				}
				var lr *reflectionpb.ServerReflectionResponse
				if err == nil || errors.Is(err, io.EOF) { // io.EOF from Send: the status is in Recv
					lr, err = rs.Recv()
				}
				wantCode(t, err, wantPublic)
				if open && len(lr.GetListServicesResponse().GetService()) != 4 {
					t.Errorf("reflection listed %v, want health, reflection v1 and v1alpha, test.Echo", lr.GetListServicesResponse().GetService())
				}
				wantCode(t, echo(t, cc), codes.PermissionDenied)
			})
		}
	}
}

// TestHealthToAllNeedsAuthentication: plaintext TCP proves nothing, so a
// list that excludes it excludes health too.
func TestHealthToAllNeedsAuthentication(t *testing.T) {
	ln := startFullServer(t, ListenConfig{Service: "inventory", NoUnix: true, PlainAddr: "127.0.0.1:0"}, WithAllow("uid:0"))
	cc := dialT(t, "tcp://"+ln.PlainAddr().String(), WithInsecureLoopback())
	_, err := healthpb.NewHealthClient(cc).Check(ctxT(t), &healthpb.HealthCheckRequest{})
	wantCode(t, err, codes.PermissionDenied)
}

func TestIsPublicMethod(t *testing.T) {
	tests := []struct {
		method string
		want   bool
	}{
		{"/grpc.health.v1.Health/Check", true},
		{"/grpc.health.v1.Health/Watch", true},
		{"/grpc.health.v1.Health/List", true},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", true},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", true},
		{"/grpc.health.v1.HealthX/Check", false},
		{"/grpc.health.v1/Check", false},
		{"/test.Echo/Echo", false},
		{"grpc.health.v1.Health", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isPublicMethod(tt.method); got != tt.want {
			t.Errorf("isPublicMethod(%q) = %v, want %v", tt.method, got, tt.want)
		}
	}
}

// metricValue returns the value of the counter or histogram count of name
// whose labels include want, and whether such a series exists.
func metricValue(tb testing.TB, g prometheus.Gatherer, name string, want map[string]string) (float64, *dto.Metric) {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount()), m
			}
			return m.GetCounter().GetValue(), m
		}
	}
	return 0, nil
}

// TestServerMetrics: the standard grpc_server_* series, labelled by
// grpc_type and transport, count served and denied calls; denied calls
// also count in podwire_authz_denied_total.
func TestServerMetrics(t *testing.T) {
	for _, kind := range []Kind{KindUnix, KindTLS, KindMuxTLS} {
		t.Run(kind.String(), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			cc := deniedClient(t, kind, WithMetrics(reg))
			if _, err := healthpb.NewHealthClient(cc).Check(ctxT(t), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatalf("Check: %v", err)
			}
			w, err := healthpb.NewHealthClient(cc).Watch(ctxT(t), &healthpb.HealthCheckRequest{})
			if err == nil {
				_, err = w.Recv()
			}
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			for range 2 {
				wantCode(t, echo(t, cc), codes.PermissionDenied)
			}
			tr := kind.String()
			checks := []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"grpc_server_handled_total", map[string]string{"grpc_method": "Check", "grpc_type": "unary", "grpc_code": "OK", "transport": tr}, 1},
				{"grpc_server_started_total", map[string]string{"grpc_method": "Watch", "grpc_type": "server_stream", "transport": tr}, 1},
				{"grpc_server_msg_sent_total", map[string]string{"grpc_method": "Watch", "grpc_type": "server_stream", "transport": tr}, 1},
				{"grpc_server_handled_total", map[string]string{"grpc_method": "Echo", "grpc_type": "unary", "grpc_code": "PermissionDenied", "transport": tr}, 2},
				{"grpc_server_handling_seconds", map[string]string{"grpc_method": "Check", "grpc_type": "unary", "transport": tr}, 1},
				{"podwire_authz_denied_total", map[string]string{"method": "/test.Echo/Echo", "transport": tr}, 2},
			}
			for _, c := range checks {
				if got, _ := metricValue(t, reg, c.name, c.labels); got != c.want {
					t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
				}
			}
			_, m := metricValue(t, reg, "grpc_server_handling_seconds", map[string]string{"grpc_method": "Check"})
			top := 0.0
			for _, b := range m.GetHistogram().GetBucket() {
				top = max(top, b.GetUpperBound())
			}
			if top < 60 {
				t.Errorf("grpc_server_handling_seconds tops out at %vs, want at least 60s", top)
			}
		})
	}
}

// TestWithMetricsTwiceOnOneRegistry: the second server on a registry gets
// an error that says what to do, not a panic.
func TestWithMetricsTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := ServerOptions(WithMetrics(reg)); err != nil {
		t.Fatalf("first ServerOptions: %v", err)
	}
	if _, err := ServerOptions(WithMetrics(reg)); !errors.Is(err, ErrBadConfig) {
		t.Errorf("second ServerOptions on one registry = %v, want ErrBadConfig", err)
	}
	if _, err := ServerOptions(WithMetrics(nil)); !errors.Is(err, ErrBadConfig) {
		t.Errorf("WithMetrics(nil) = %v, want ErrBadConfig", err)
	}
}
