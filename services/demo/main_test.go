package demo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// podwireBin is the podwire binary built once for the process tests.
var podwireBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podwire-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	podwireBin = filepath.Join(dir, "podwire")
	build := exec.Command("go", "build", "-o", podwireBin, "github.com/podwire/podwire/cmd/podwire")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build podwire: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = os.RemoveAll(dir) }))
}
