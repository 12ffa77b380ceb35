package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"google.golang.org/grpc"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/transport"
)

// runtimeUID is the image's non-root user (deploy/docker/Dockerfile).
const runtimeUID = 65532

// pod is a set of containers sharing one host directory at /run/podwire
// (the Unix sockets) and one at /var/lib/podwire (the data files), as the
// containers of a Kubernetes pod share an emptyDir. The test process reaches
// the pod's sockets through the host side of that directory, as one more
// member of the pod would.
type pod struct {
	name    string
	sockDir string // host side of /run/podwire
	dataDir string // host side of /var/lib/podwire
}

func newPod(t testing.TB, name string) *pod {
	t.Helper()
	p := &pod{name: name, sockDir: runtimeDir(t), dataDir: runtimeDir(t)}
	return p
}

// runtimeDir makes a host directory the image's user can write to.
func runtimeDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chown(dir, runtimeUID, runtimeUID); err != nil {
		// Not root: let any uid in, the directory is private to this test.
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatalf("making %s writable for uid %d: %v", dir, runtimeUID, err)
		}
	}
	return dir
}

// mounts is the customizer that gives a container the pod's directories.
func (p *pod) mounts() testcontainers.CustomizeRequestOption {
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.Binds = append(hc.Binds, p.sockDir+":/run/podwire", p.dataDir+":/var/lib/podwire")
	})
}

// socket is the host path of the pod's <name>.sock.
func (p *pod) socket(name string) string { return filepath.Join(p.sockDir, name+".sock") }

// noNetwork gives a container no network interface but loopback.
func noNetwork() testcontainers.CustomizeRequestOption {
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "none" })
}

// waitSocket waits until something accepts on path.
func waitSocket(t testing.TB, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing accepts on %s after %s: %v", path, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialUnix opens a gRPC connection to a pod's socket from the host.
func dialUnix(t testing.TB, path string) *grpc.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := transport.Dial(ctx, "unix://"+path)
	if err != nil {
		t.Fatalf("dialing %s: %v", path, err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// selfUID is the allow-list entry for the test process itself.
func selfUID() string { return "uid:" + strconv.Itoa(os.Getuid()) }

// stockOf returns available+reserved+sold per SKU, and available alone.
func stockOf(ctx context.Context, inv inventoryv1.InventoryServiceClient) (map[string]*inventoryv1.Item, error) {
	out := map[string]*inventoryv1.Item{}
	token := ""
	for {
		resp, err := inv.ListItems(ctx, &inventoryv1.ListItemsRequest{PageSize: 500, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("ListItems: %w", err)
		}
		for _, it := range resp.GetItems() {
			out[it.GetSku()] = it
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// orderFor builds a valid order of n units of sku under key.
func orderFor(key, sku string, n int32) *purchasev1.PlaceOrderRequest {
	return &purchasev1.PlaceOrderRequest{
		IdempotencyKey: key,
		CustomerId:     "it-customer",
		Lines:          []*purchasev1.OrderLine{{Sku: sku, Quantity: n}},
	}
}

var errNoItems = errors.New("inventory has no items: was it started with --seed?")
