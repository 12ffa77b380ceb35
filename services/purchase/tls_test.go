package purchase

import (
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/transport"
	"github.com/podwire/podwire/transport/certs"
)

// TestRunOverTLS puts inventory in another "pod" (its own socket dir)
// with a TLS listener and an allow-list. Purchase finds no inventory
// socket and goes over TCP+TLS to PODWIRE_PEER_INVENTORY, with the same
// code as over a socket; an identity the allow-list lacks is refused.
func TestRunOverTLS(t *testing.T) {
	base := t.TempDir()
	certDir := filepath.Join(base, "certs")
	if err := certs.Write(certDir, []string{"inventory", "purchase", "intruder"}); err != nil {
		t.Fatalf("certs.Write: %v", err)
	}
	ca := filepath.Join(certDir, "ca.crt")
	crt := func(n string) (string, string) {
		return filepath.Join(certDir, n+".crt"), filepath.Join(certDir, n+".key")
	}
	invCrt, invKey := crt("inventory")
	invAddrs, _ := runService(t, inventory.Run, host.Config{
		SocketDir: filepath.Join(base, "pod-a"), DataPath: filepath.Join(base, "inv.db"), Seed: true,
		TLSListen: "127.0.0.1:0", CertFile: invCrt, KeyFile: invKey, CAFile: ca,
		Allow: []string{"spiffe://" + certs.DefaultTrustDomain + "/purchase"},
	})
	t.Setenv("PODWIRE_PEER_INVENTORY", invAddrs.TLS.String())

	tests := []struct {
		identity      string
		wantCode      codes.Code
		wantTransport string
	}{
		{"purchase", codes.OK, "mux+tls"},
		{"intruder", codes.Internal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.identity, func(t *testing.T) {
			dir := filepath.Join(base, "pod-"+tt.identity)
			c, k := crt(tt.identity)
			runService(t, Run, host.Config{SocketDir: dir, DataPath: filepath.Join(base, tt.identity+".db"), CertFile: c, KeyFile: k, CAFile: ca})
			cc, err := transport.Dial(t.Context(), ServiceName, transport.WithSocketDir(dir))
			if err != nil {
				t.Fatalf("Dial purchase: %v", err)
			}
			defer cc.Close()
			resp, err := purchasev1.NewPurchaseServiceClient(cc).PlaceOrder(t.Context(), place("k", "alice", ol("tea-green", 1)))
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("PlaceOrder = %v, want %v", err, tt.wantCode)
			}
			if got := resp.GetOrder().GetInventoryTransport(); got != tt.wantTransport {
				t.Errorf("inventory_transport = %q, want %q", got, tt.wantTransport)
			}
		})
	}
}
