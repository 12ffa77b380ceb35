package transport

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podwire/podwire/transport/certs"
)

// tlsServer starts an inventory server on TLS with certDir's files.
func tlsServer(tb testing.TB, certDir string, sopts ...ServerOption) *testServer {
	tb.Helper()
	return startServer(tb, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, certDir, "inventory"), sopts...)
}

func TestTLSRejections(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	otherCA := testCertDir(t, "client", "inventory")
	expired := t.TempDir()
	copyFile(t, filepath.Join(certDir, "ca.crt"), filepath.Join(expired, "ca.crt"))
	copyFile(t, filepath.Join(certDir, "ca.key"), filepath.Join(expired, "ca.key"))
	nb := time.Now().Add(-48 * time.Hour)
	if err := certs.Write(expired, []string{"client"}, certs.WithValidity(nb, nb.Add(time.Hour))); err != nil {
		t.Fatalf("certs.Write expired: %v", err)
	}
	s := tlsServer(t, certDir)
	addr := "tls://" + s.ln.TLSAddr().String()
	tests := []struct {
		name string
		opts []DialOption
	}{
		{"client cert from an untrusted CA", []DialOption{WithTLSFiles(filepath.Join(otherCA, "client.crt"),
			filepath.Join(otherCA, "client.key"), filepath.Join(certDir, "ca.crt"))}},
		{"server cert from an untrusted CA", []DialOption{WithTLSFiles(filepath.Join(certDir, "client.crt"),
			filepath.Join(certDir, "client.key"), filepath.Join(otherCA, "ca.crt"))}},
		{"expired client cert", []DialOption{tlsFiles(expired, "client")}},
		{"server name mismatch", []DialOption{tlsFiles(certDir, "client"), WithServerName("purchase")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]DialOption{WithServerName("inventory")}, tt.opts...)
			cc := dialT(t, addr, opts...)
			_, err := check(t, cc)
			wantCode(t, err, codes.Unavailable)
			if len(s.peers) != 0 {
				t.Errorf("a handler ran for a rejected client")
			}
		})
	}
}

// copyFile copies src to dst.
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestAllowList(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	me, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	notMe := strconv.Itoa(os.Getuid() + 4242)
	tests := []struct {
		name  string
		tls   bool
		allow []string
		want  codes.Code
	}{
		{"unix empty list allows own uid", false, nil, codes.OK},
		{"unix uid allowed", false, []string{"uid:" + me}, codes.OK},
		{"unix gid allowed", false, []string{"uid:" + notMe, "gid:" + gid}, codes.OK},
		{"unix uid not allowed", false, []string{"uid:" + notMe}, codes.PermissionDenied},
		{"unix spiffe-only list", false, []string{"spiffe://podwire.local/client"}, codes.PermissionDenied},
		{"tls empty list allows the CA", true, nil, codes.OK},
		{"tls spiffe allowed", true, []string{"uid:" + me, "spiffe://podwire.local/client"}, codes.OK},
		{"tls dns allowed", true, []string{"dns:client"}, codes.OK},
		{"tls wrong spiffe id", true, []string{"spiffe://podwire.local/purchase"}, codes.PermissionDenied},
		{"tls wrong trust domain", true, []string{"spiffe://other.example/client"}, codes.PermissionDenied},
		{"tls uid-only list", true, []string{"uid:" + me}, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *testServer
			var target string
			var opts []DialOption
			if tt.tls {
				s = tlsServer(t, certDir, WithAllow(tt.allow...), WithHealthToAll(false))
				target, opts = "tls://"+s.ln.TLSAddr().String(), []DialOption{tlsFiles(certDir, "client"), WithServerName("inventory")}
			} else {
				s = startServer(t, ListenConfig{Service: "inventory", SocketDir: shortTempDir(t)}, WithAllow(tt.allow...), WithHealthToAll(false))
				target = "unix://" + s.ln.SocketPath()
			}
			client := dialT(t, target, opts...)
			_, err := check(t, client)
			wantCode(t, err, tt.want)
			stream, err := healthpb.NewHealthClient(client).Watch(ctxT(t), &healthpb.HealthCheckRequest{})
			if err == nil {
				_, err = stream.Recv()
			}
			wantCode(t, err, tt.want)
			if ran := len(s.peers) > 0; ran != (tt.want == codes.OK) {
				t.Errorf("handler ran = %v, want %v", ran, tt.want == codes.OK)
			}
		})
	}
}

func TestAllowListParseErrors(t *testing.T) {
	for _, entry := range []string{"uid:abc", "gid:-1", "user:1000", "spiffe://", "spiffe://d:80/x", "dns:", "1000"} {
		t.Run(entry, func(t *testing.T) {
			_, err := ServerOptions(WithAllow("uid:1", entry))
			var ae *AllowEntryError
			if !errors.As(err, &ae) || ae.Entry != entry || !strings.Contains(err.Error(), strconv.Quote(entry)) {
				t.Errorf("ServerOptions(WithAllow(%q)) = %v, want an *AllowEntryError naming it", entry, err)
			}
		})
	}
}

func TestCertRotationKeepsLiveStream(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	s := tlsServer(t, certDir)
	s.health.SetServingStatus("inv", healthpb.HealthCheckResponse_SERVING)
	addr := "tls://" + s.ln.TLSAddr().String()
	opts := []DialOption{tlsFiles(certDir, "client"), WithServerName("inventory")}
	cc := dialT(t, addr, opts...)
	p, err := check(t, cc)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	oldSerial := p.Chain[0].SerialNumber
	stream, err := healthpb.NewHealthClient(cc).Watch(ctxT(t), &healthpb.HealthCheckRequest{Service: "inv"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Recv: %v", err)
	}

	// Rotate the server's certificate (same CA) while the stream is open.
	if err := certs.Write(certDir, []string{"inventory"}); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fresh := dialT(t, addr, opts...)
		p, err := check(t, fresh)
		if err == nil && p.Chain[0].SerialNumber.Cmp(oldSerial) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still get the old certificate 10s after rotation (err %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.health.SetServingStatus("inv", healthpb.HealthCheckResponse_NOT_SERVING)
	if r, err := stream.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("live stream after rotation: Recv = %v, %v; want NOT_SERVING", r, err)
	}
}
