package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// TestImage checks the suite image is what deploy/docker promises: the
// static binary runs with no network at all, as a non-root user, from an
// image with nothing else in it.
func TestImage(t *testing.T) {
	ctr := start(t, podSpec{
		name: "version",
		args: []string{"version"},
		opts: []testcontainers.ContainerCustomizer{
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "none" }),
			testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(time.Minute)),
		},
	})
	ctx := context.Background()
	st, err := ctr.State(ctx)
	if err != nil {
		t.Fatalf("container state: %v", err)
	}
	if st.ExitCode != 0 {
		t.Errorf("podwire version exit code = %d, want 0; logs:\n%s", st.ExitCode, logsOf(ctx, ctr))
	}
	if got := logsOf(ctx, ctr); !strings.Contains(got, "podwire ") || !strings.Contains(got, "linux/amd64") {
		t.Errorf("podwire version printed %q, want a version line for linux/amd64", got)
	}

	img, err := suite.provider.Client().ImageInspect(ctx, suite.image)
	if err != nil {
		t.Fatalf("inspecting %s: %v", suite.image, err)
	}
	if got, want := img.Config.User, "65532:65532"; got != want {
		t.Errorf("image user = %q, want %q (non-root)", got, want)
	}
	if got, want := img.Config.Entrypoint, []string{"/podwire"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("image entrypoint = %q, want %q", got, want)
	}
	if len(img.RootFS.Layers) > 3 {
		t.Errorf("image has %d layers, want at most 3 (rootfs dirs, binary): is it still FROM scratch?", len(img.RootFS.Layers))
	}
}
