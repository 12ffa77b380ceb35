package integration

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"go.uber.org/goleak"
)

// suiteLabel marks every container, network and volume the suite creates,
// so TestMain can prove nothing was left behind.
const suiteLabel = "io.podwire.integration"

func suiteLabels() map[string]string { return map[string]string{suiteLabel: "true"} }

func labelFilter() client.Filters { return client.Filters{}.Add("label", suiteLabel+"=true") }

func listContainers(ctx context.Context) ([]containerRef, error) {
	res, err := suite.provider.Client().ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilter()})
	if err != nil {
		return nil, fmt.Errorf("listing the suite's containers: %w", err)
	}
	out := make([]containerRef, 0, len(res.Items))
	for _, c := range res.Items {
		out = append(out, containerRef{ID: c.ID, Names: strings.Join(c.Names, ",")})
	}
	return out, nil
}

func listNetworks(ctx context.Context) ([]string, error) {
	res, err := suite.provider.Client().NetworkList(ctx, client.NetworkListOptions{Filters: labelFilter()})
	if err != nil {
		return nil, fmt.Errorf("listing the suite's networks: %w", err)
	}
	out := make([]string, 0, len(res.Items))
	for _, n := range res.Items {
		out = append(out, n.Name)
	}
	return out, nil
}

type containerRef struct{ ID, Names string }

func imageRemoveOptions() client.ImageRemoveOptions {
	return client.ImageRemoveOptions{PruneChildren: true}
}

// goleakOptions ignores the Docker client's idle HTTP connections, which
// belong to the client library, not to podwire.
func goleakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	}
}

// podSpec describes one podwire container of a test.
type podSpec struct {
	name    string   // short name, used in logs and as a network alias
	args    []string // podwire arguments (the image's entrypoint is /podwire)
	opts    []testcontainers.ContainerCustomizer
	volumes []string // named volumes to remove with the container
}

// start runs c from the suite image and terminates it (and its volumes)
// when the test ends, printing its logs if the test failed.
func start(t testing.TB, c podSpec) testcontainers.Container {
	t.Helper()
	return startOwned(t, t, c)
}

// startOwned is start for a container that outlives the (sub)test t that
// starts it: failures to start are reported on t, while owner terminates
// it when owner ends (e.g. a replacement started inside a subtest).
func startOwned(t, owner testing.TB, c podSpec) testcontainers.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append([]testcontainers.ContainerCustomizer{
		testcontainers.WithCmd(c.args...),
		testcontainers.WithLabels(suiteLabels()),
	}, c.opts...)
	ctr, err := testcontainers.Run(ctx, suite.image, opts...)
	owner.Cleanup(func() {
		if ctr == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if owner.Failed() {
			owner.Logf("logs of %s:\n%s", c.name, logsOf(ctx, ctr))
		}
		if err := testcontainers.TerminateContainer(ctr, testcontainers.RemoveVolumes(c.volumes...)); err != nil {
			owner.Errorf("terminating %s: %v", c.name, err)
		}
	})
	if err != nil {
		t.Fatalf("starting container %s (podwire %s): %v", c.name, strings.Join(c.args, " "), err)
	}
	return ctr
}

// logsOf returns a container's combined output, or a note why it can't.
func logsOf(ctx context.Context, ctr testcontainers.Container) string {
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	var b bytes.Buffer
	drain(&b, rc)
	return b.String()
}
