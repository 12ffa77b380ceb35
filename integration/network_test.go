package integration

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// newNetwork creates a labelled bridge network for one test and removes it
// when the test ends (after its containers, which t.Cleanup terminates
// first because they were started later).
func newNetwork(t testing.TB) *testcontainers.DockerNetwork {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := tcnetwork.New(ctx, tcnetwork.WithLabels(suiteLabels()))
	if err != nil {
		t.Fatalf("creating a test network: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.Remove(ctx); err != nil {
			t.Errorf("removing network %s: %v", n.Name, err)
		}
	})
	return n
}

// onNetwork attaches a container to n under the given DNS aliases.
func onNetwork(n *testcontainers.DockerNetwork, aliases ...string) testcontainers.CustomizeRequestOption {
	return tcnetwork.WithNetwork(aliases, n)
}

// ipOn returns the container's address on n: the host reaches it directly
// through the bridge, so no port is published anywhere.
func ipOn(t testing.TB, ctr testcontainers.Container, n *testcontainers.DockerNetwork) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatalf("inspecting a container: %v", err)
	}
	ep := info.NetworkSettings.Networks[n.Name]
	if ep == nil || !ep.IPAddress.IsValid() {
		t.Fatalf("container %s has no address on network %s", info.Name, n.Name)
	}
	return ep.IPAddress.String()
}

// disconnect takes ctr off n, as a cut cable would.
func disconnect(ctx context.Context, ctr testcontainers.Container, n *testcontainers.DockerNetwork) error {
	_, err := suite.provider.Client().NetworkDisconnect(ctx, n.ID, client.NetworkDisconnectOptions{Container: ctr.GetContainerID(), Force: true})
	return err
}

// reconnect puts ctr back on n under aliases.
func reconnect(ctx context.Context, ctr testcontainers.Container, n *testcontainers.DockerNetwork, aliases ...string) error {
	_, err := suite.provider.Client().NetworkConnect(ctx, n.ID, client.NetworkConnectOptions{
		Container:      ctr.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: aliases},
	})
	return err
}

// signal sends sig ("SIGKILL", "SIGTERM") to the container's process.
func signal(ctx context.Context, ctr testcontainers.Container, sig string) error {
	_, err := suite.provider.Client().ContainerKill(ctx, ctr.GetContainerID(), client.ContainerKillOptions{Signal: sig})
	return err
}

// pause freezes every process of ctr; unpause thaws them.
func pause(ctx context.Context, ctr testcontainers.Container) error {
	_, err := suite.provider.Client().ContainerPause(ctx, ctr.GetContainerID(), client.ContainerPauseOptions{})
	return err
}

func unpause(ctx context.Context, ctr testcontainers.Container) error {
	_, err := suite.provider.Client().ContainerUnpause(ctx, ctr.GetContainerID(), client.ContainerUnpauseOptions{})
	return err
}

// waitExit waits until ctr's process has exited and returns its exit code.
func waitExit(ctx context.Context, t testing.TB, ctr testcontainers.Container) int {
	t.Helper()
	for {
		st, err := ctr.State(ctx)
		if err != nil {
			t.Fatalf("container state: %v", err)
		}
		if !st.Running {
			return st.ExitCode
		}
		select {
		case <-ctx.Done():
			t.Fatalf("container still running: %v", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
