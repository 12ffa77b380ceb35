package bench

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The deployed placement re-executes this test binary for every server
	// process, the way `podwire bench` re-executes podwire.
	if spec, ok := ChildSpec(); ok {
		if err := RunChild(context.Background(), spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "podwire bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
