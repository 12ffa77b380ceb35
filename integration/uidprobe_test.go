package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/transport"
)

// probeEnv makes the test binary a one-shot gRPC client instead of a test
// run: it dials the inventory socket named by the variable, calls
// ListItems, prints the status code and exits. The suite re-executes
// itself this way under another uid (a process that is not on the
// socket's allow list).
const probeEnv = "PODWIRE_IT_UDS_PROBE"

// The probe must run before TestMain (which would build images), so it is
// an init of the test binary; in a normal run the variable is unset and
// this does nothing.
func init() {
	if path := os.Getenv(probeEnv); path != "" {
		os.Exit(udsProbe(os.Stdout, path))
	}
}

func udsProbe(w io.Writer, path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc, err := transport.Dial(ctx, "unix://"+path)
	if err != nil {
		fmt.Fprintf(w, "dial-error %v\n", err)
		return 2
	}
	defer cc.Close()
	_, err = inventoryv1.NewInventoryServiceClient(cc).ListItems(ctx, &inventoryv1.ListItemsRequest{})
	fmt.Fprintf(w, "code=%s uid=%d %v\n", status.Code(err), os.Getuid(), err)
	return 0
}

// probeAs runs the probe against socket as uid (with group gid, which
// may open the 0660 socket file) and returns the gRPC code it got. Only
// root can run a process as another uid.
func probeAs(t testing.TB, socket string, uid, gid uint32) codes.Code {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatalf("running a client as uid %d needs root (the suite runs as root in CI and on the dev VM); this test process runs as uid %d", uid, os.Getuid())
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The go-build directory of the test binary is private: copy the
	// binary where uid can run it, and let it traverse to the socket.
	dir, err := os.MkdirTemp("", "podwire-it-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "probe")
	copyFile(t, self, bin)
	for _, d := range []string{dir, bin} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	openPath(t, filepath.Dir(socket))

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), probeEnv+"="+socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("probe as uid %d: %v\n%s", uid, err, out.String())
	}
	line := strings.TrimSpace(out.String())
	t.Logf("probe as uid %d gid %d: %s", uid, gid, line)
	name, _, _ := strings.Cut(strings.TrimPrefix(line, "code="), " ")
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c
		}
	}
	t.Fatalf("probe printed %q, want code=<gRPC code>", line)
	return codes.Unknown
}

// openPath lets group members into dir (0750: the socket dir mode the
// product uses) and lets anyone traverse its test-private parents up to
// the temp root, so a process of another uid can reach the socket.
func openPath(t testing.TB, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Dir(dir); strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o111); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
