//go:build unix

package demo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
)

// TestDemoKeep runs `podwire demo --keep`, then reaches the kept inventory
// the way the printed grpcurl line does (plaintext gRPC on the socket),
// and stops both services with the printed pids.
func TestDemoKeep(t *testing.T) {
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), podwireBin, "demo", "--orders", "10", "--keep")
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	pids := regexp.MustCompile(`pid (\d+) +socket (\S+)`).FindAllStringSubmatch(out.String(), -1)
	dir := regexp.MustCompile(`rm -r (\S+)\n`).FindStringSubmatch(out.String())
	t.Cleanup(func() {
		for _, m := range pids {
			pid, _ := strconv.Atoi(m[1])
			stopPid(t, pid)
		}
		if dir != nil {
			_ = os.RemoveAll(dir[1])
		}
	})
	if runErr != nil {
		t.Fatalf("podwire demo --keep: %v\n%s", runErr, out.String())
	}
	if len(pids) != 2 || dir == nil {
		t.Fatalf("want two pid lines and the rm hint in:\n%s", out.String())
	}
	cc, err := grpc.NewClient("unix://"+pids[0][2], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer cc.Close()
	r, err := inventoryv1.NewInventoryServiceClient(cc).GetItem(t.Context(), &inventoryv1.GetItemRequest{Sku: "milk-1l"})
	if err != nil {
		t.Fatalf("GetItem on the kept inventory: %v", err)
	}
	if r.GetItem().GetAvailable()+r.GetItem().GetReserved() != 10_000 {
		t.Errorf("milk-1l available %d + reserved %d, want the seeded 10000", r.GetItem().GetAvailable(), r.GetItem().GetReserved())
	}
}

// stopPid sends SIGTERM to a process the test does not own as a child and
// waits until it is gone.
func stopPid(tb testing.TB, pid int) {
	tb.Helper()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
	}
	tb.Errorf("pid %d still running 15s after SIGTERM", pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
