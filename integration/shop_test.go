package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/sidecar"
)

// Names of the cross-pod topology.
const (
	invAlias   = "inventory" // pod B's sidecar on the test network (the Kubernetes Service name)
	adminSock  = "podwire-admin.sock"
	adminOfPod = "unix:/run/podwire/" + adminSock
)

// shop is the cross-pod topology of scenarios 2, 4, 5 and 6: pod A runs
// purchase and its sidecar, pod B inventory and its sidecar. Only the
// sidecars have a network (a suite network, where pod B's sidecar is
// "inventory"); the apps have loopback only and reach their sidecar
// through the pod's socket directory. The test process is one more member
// of each pod: it reaches purchase and inventory through their sockets.
type shop struct {
	owner  testing.TB // the test the topology lives as long as
	net    *testcontainers.DockerNetwork
	a, b   *pod
	tls    string // CA, and leaves purchase and inventory
	sideA  testcontainers.Container
	sideB  testcontainers.Container
	inv    testcontainers.Container
	sideBC sidecar.Config // pod B's sidecar config, for replacements
	pur    purchasev1.PurchaseServiceClient
	invc   inventoryv1.InventoryServiceClient
	skus   []string
}

// shopOption changes pod B's sidecar config before it starts.
type shopOption func(*sidecar.Config)

// newShop starts the topology and waits until every piece accepts.
func newShop(t testing.TB, opts ...shopOption) *shop {
	t.Helper()
	s := &shop{owner: t, net: newNetwork(t), a: newPod(t, "a"), b: newPod(t, "b")}
	s.tls = tlsDir(t, []string{"purchase", "inventory"})

	s.inv = s.startInventory(t)
	s.sideBC = sidecarConfig("inventory", adminSock)
	s.sideBC.Services = []sidecar.Service{{Name: "inventory", Allow: []string{spiffeOf("purchase")}}}
	for _, o := range opts {
		o(&s.sideBC)
	}
	s.sideB = s.b.startSidecar(t, sidecarSpec{
		name: "sidecar-b", conf: s.sideBC, tlsDir: s.tls,
		opts: []testcontainers.ContainerCustomizer{onNetwork(s.net, invAlias)},
	})

	confA := sidecarConfig("purchase", adminSock)
	confA.Upstreams = []sidecar.Upstream{{Name: "inventory", Address: fmt.Sprintf("%s:%d", invAlias, sidecarPort)}}
	s.sideA = s.a.startSidecar(t, sidecarSpec{
		name: "sidecar-a", conf: confA, tlsDir: s.tls,
		opts: []testcontainers.ContainerCustomizer{onNetwork(s.net, "purchase")},
	})
	start(t, podSpec{
		name: "purchase",
		args: []string{"serve", "purchase", "--data", "/var/lib/podwire/purchase.db", "--allow", selfUID()},
		opts: []testcontainers.ContainerCustomizer{s.a.mounts(), noNetwork()},
	})
	waitSocket(t, s.a.socket("purchase"), 30*time.Second)

	s.pur = purchasev1.NewPurchaseServiceClient(dialUnix(t, s.a.socket("purchase")))
	s.invc = inventoryv1.NewInventoryServiceClient(dialUnix(t, s.b.socket("inventory")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := stockOf(ctx, s.invc)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 {
		t.Fatal(errNoItems)
	}
	for sku := range st {
		s.skus = append(s.skus, sku)
	}
	return s
}

// startInventory runs inventory in pod B (again, after a kill: the same
// data file) and waits for its socket. It admits pod B's sidecar (the
// image's uid) and the test process. The container lives as long as the
// topology, even when a subtest t starts it.
func (s *shop) startInventory(t testing.TB) testcontainers.Container {
	t.Helper()
	ctr := startOwned(t, s.owner, podSpec{
		name: "inventory",
		args: []string{"serve", "inventory", "--seed", "--data", "/var/lib/podwire/inventory.db",
			"--allow", fmt.Sprintf("uid:%d,%s", runtimeUID, selfUID())},
		opts: []testcontainers.ContainerCustomizer{s.b.mounts(), noNetwork()},
	})
	waitSocket(t, s.b.socket("inventory"), 30*time.Second)
	return ctr
}

// sku picks the SKU of order i.
func (s *shop) sku(i int) string { return s.skus[i%len(s.skus)] }
