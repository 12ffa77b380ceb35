package transport

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// transportCase sets up a server and a client over one transport.
type transportCase struct {
	name string
	kind Kind
	// setup starts a server and returns a client target and dial options.
	setup func(tb testing.TB) (*testServer, string, []DialOption)
}

// transports is the table every behaviour test runs over.
func transports() []transportCase {
	return []transportCase{
		{"unix", KindUnix, func(tb testing.TB) (*testServer, string, []DialOption) {
			s := startServer(tb, ListenConfig{Service: "inventory", SocketDir: shortTempDir(tb)})
			return s, "unix://" + s.ln.SocketPath(), nil
		}},
		{"tcp", KindTCP, func(tb testing.TB) (*testServer, string, []DialOption) {
			s := startServer(tb, ListenConfig{Service: "inventory", NoUnix: true, PlainAddr: "127.0.0.1:0"})
			return s, "tcp://" + s.ln.PlainAddr().String(), []DialOption{WithInsecureLoopback()}
		}},
		{"tls", KindTLS, func(tb testing.TB) (*testServer, string, []DialOption) {
			dir := testCertDir(tb, "inventory", "client")
			s := startServer(tb, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, dir, "inventory"))
			return s, "tls://" + s.ln.TLSAddr().String(), []DialOption{tlsFiles(dir, "client"), WithServerName("inventory")}
		}},
		{"mux+tls", KindMuxTLS, func(tb testing.TB) (*testServer, string, []DialOption) {
			dir := testCertDir(tb, "inventory", "client")
			s := startServer(tb, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, dir, "inventory"))
			return s, "inventory", []DialOption{WithSocketDir(shortTempDir(tb)), tlsFiles(dir, "client"),
				WithPeerAddr("inventory", s.ln.TLSAddr().String())}
		}},
	}
}

func TestBehaviourUnary(t *testing.T) {
	for _, tc := range transports() {
		t.Run(tc.name, func(t *testing.T) {
			s, target, opts := tc.setup(t)
			cc := dialT(t, target, opts...)
			p, err := check(t, cc)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if p.Transport != tc.kind {
				t.Errorf("client PeerOf transport = %v, want %v", p.Transport, tc.kind)
			}
			sp := <-s.peers
			if sp.Transport != tc.kind {
				t.Errorf("server PeerFrom transport = %v, want %v", sp.Transport, tc.kind)
			}
			switch tc.kind {
			case KindUnix:
				if sp.UID < 0 || sp.PID <= 0 {
					t.Errorf("server PeerFrom uid/pid = %d/%d, want SO_PEERCRED values", sp.UID, sp.PID)
				}
			case KindTLS, KindMuxTLS:
				if got, want := sp.SPIFFEID, "spiffe://podwire.local/client"; got != want {
					t.Errorf("server PeerFrom SPIFFE ID = %q, want %q", got, want)
				}
				// podwire certs also adds localhost, 127.0.0.1 and ::1 SANs.
				if got := p.DNSNames; len(got) == 0 || got[0] != "inventory" {
					t.Errorf("client PeerOf DNS names = %v, want the service name first", got)
				}
			}
		})
	}
}

func TestBehaviourErrorStatus(t *testing.T) {
	for _, tc := range transports() {
		t.Run(tc.name, func(t *testing.T) {
			_, target, opts := tc.setup(t)
			cc := dialT(t, target, opts...)
			_, err := healthpb.NewHealthClient(cc).Check(ctxT(t), &healthpb.HealthCheckRequest{Service: "nope"})
			wantCode(t, err, codes.NotFound)
		})
	}
}

func TestBehaviourServerStream(t *testing.T) {
	for _, tc := range transports() {
		t.Run(tc.name, func(t *testing.T) {
			s, target, opts := tc.setup(t)
			s.health.SetServingStatus("inv", healthpb.HealthCheckResponse_SERVING)
			cc := dialT(t, target, opts...)
			stream, err := healthpb.NewHealthClient(cc).Watch(ctxT(t), &healthpb.HealthCheckRequest{Service: "inv"})
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			want := []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING}
			for i, w := range want {
				resp, err := stream.Recv()
				if err != nil {
					t.Fatalf("Recv %d: %v", i, err)
				}
				if resp.Status != w {
					t.Fatalf("Recv %d status = %v, want %v", i, resp.Status, w)
				}
				if i == 0 {
					s.health.SetServingStatus("inv", healthpb.HealthCheckResponse_NOT_SERVING)
				}
			}
		})
	}
}

func TestBehaviourConcurrentCalls(t *testing.T) {
	for _, tc := range transports() {
		t.Run(tc.name, func(t *testing.T) {
			_, target, opts := tc.setup(t)
			client := healthpb.NewHealthClient(dialT(t, target, opts...))
			ctx := ctxT(t)
			const workers, calls = 16, 25
			errs := make(chan error, workers)
			for range workers {
				go func() {
					for range calls {
						if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range workers {
				if err := <-errs; err != nil {
					t.Errorf("Check: %v", err)
				}
			}
		})
	}
}

func TestBehaviourDeadline(t *testing.T) {
	for _, tc := range transports() {
		t.Run(tc.name, func(t *testing.T) {
			_, target, opts := tc.setup(t)
			client := healthpb.NewHealthClient(dialT(t, target, opts...))
			if _, err := check(t, dialT(t, target, opts...)); err != nil {
				t.Fatalf("warm-up Check: %v", err)
			}
			ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "never-set"})
			if err == nil {
				for err == nil {
					_, err = stream.Recv()
				}
			}
			// The client's timer gives DeadlineExceeded; if the server sees the
			// propagated deadline first, the health service ends the stream
			// with Canceled. Either way the deadline ended it, in time.
			if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Canceled {
				t.Errorf("Watch past its deadline = %v, want DeadlineExceeded (or the server's Canceled)", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Watch ended %v after start, want about 100ms", d)
			}
		})
	}
}
