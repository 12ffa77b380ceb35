package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// runVersion prints the module version and the Go toolchain.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("version", "podwire version", "Prints the podwire module version, the Go version and the platform.", stdout, stderr)
	if _, err := f.parse(args); err != nil {
		return err
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(stdout, "podwire %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
