package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"go.uber.org/goleak"
)

// imageRef is the suite's own image: built once per `go test` run in
// TestMain and kept as the only thing the suite leaves behind.
const imageRef = "podwire-it:latest"

// suite holds what TestMain prepared for every test.
var suite struct {
	provider *testcontainers.DockerProvider
	image    string
}

func TestMain(m *testing.M) {
	// The reaper (Ryuk) is an image we cannot pull; the suite removes what
	// it starts itself, through t.Cleanup.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// Container lifecycle chatter is noise in CI output; failures print the
	// container's own logs instead.
	tclog.SetDefault(tclog.NewNoopLogger())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	p, err := dockerProvider(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "integration: CI=true and no Docker engine answers (%v): the container suite must run in CI; start Docker\n", err)
			return 1
		}
		fmt.Printf("integration: skipping the container suite: no Docker engine answers (%v); start Docker to run it\n", err)
		return 0
	}
	suite.provider = p
	defer p.Close()

	start := time.Now()
	suite.image, err = buildImage(ctx, p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: building the podwire image: %v\n", err)
		return 1
	}
	fmt.Printf("integration: built %s in %s\n", suite.image, time.Since(start).Round(time.Millisecond))

	code := m.Run()
	if code == 0 {
		if err := leftovers(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "integration: %v\n", err)
			code = 1
		}
	}
	p.Close()
	if code == 0 {
		if err := goleak.Find(goleakOptions()...); err != nil {
			fmt.Fprintf(os.Stderr, "integration: goroutine leak: %v\n", err)
			code = 1
		}
	}
	return code
}

func dockerProvider(ctx context.Context) (*testcontainers.DockerProvider, error) {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Health(hctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// buildImage compiles a static podwire binary and builds deploy/docker's
// FROM scratch image around it, replacing the previous build of the tag so
// no dangling image is left behind.
func buildImage(ctx context.Context, p *testcontainers.DockerProvider) (string, error) {
	dir, err := os.MkdirTemp("", "podwire-it-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)

	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "podwire"), "./cmd/podwire")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/podwire: %w\n%s", err, out)
	}
	// The context is the Dockerfile, rootfs/ and the fresh binary; a binary
	// someone built by hand into deploy/docker is not picked up.
	if err := os.CopyFS(filepath.Join(dir, "rootfs"), os.DirFS("../deploy/docker/rootfs")); err != nil {
		return "", fmt.Errorf("copying deploy/docker/rootfs into the build context: %w", err)
	}
	df, err := os.ReadFile("../deploy/docker/Dockerfile")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return "", err
	}

	old, _ := p.Client().ImageInspect(ctx, imageRef)
	var log bytes.Buffer
	ref, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			Context:        dir,
			Repo:           "podwire-it",
			Tag:            "latest",
			KeepImage:      true,
			BuildLogWriter: &log,
		},
	})
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, log.String())
	}
	if now, err := p.Client().ImageInspect(ctx, imageRef); err == nil && old.ID != "" && old.ID != now.ID {
		if _, err := p.Client().ImageRemove(ctx, old.ID, imageRemoveOptions()); err != nil {
			fmt.Fprintf(os.Stderr, "integration: could not remove the previous build %s: %v\n", old.ID, err)
		}
	}
	return ref, nil
}

// leftovers fails the run when a container, network or volume the suite
// labelled is still present after every test cleaned up.
func leftovers(ctx context.Context) error {
	var errs []error
	cs, err := listContainers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		errs = append(errs, fmt.Errorf("container %s (%s) left behind", c.ID[:12], c.Names))
	}
	ns, err := listNetworks(ctx)
	if err != nil {
		return err
	}
	for _, n := range ns {
		errs = append(errs, fmt.Errorf("network %s left behind", n))
	}
	return errors.Join(errs...)
}

// drain copies r to w, ignoring errors; used for container logs.
func drain(w io.Writer, r io.Reader) { _, _ = io.Copy(w, r) }
