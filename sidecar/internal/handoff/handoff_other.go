//go:build !unix

package handoff

import (
	"context"
	"os"
)

// Child is a successor process; not available on this platform.
type Child struct{}

// Start returns ErrUnsupported on this platform.
func Start(string, []string, []string, map[string]*os.File) (*Child, error) {
	return nil, ErrUnsupported
}

// Pid returns 0.
func (*Child) Pid() int { return 0 }

// WaitReady returns ErrUnsupported.
func (*Child) WaitReady(context.Context) error { return ErrUnsupported }

// Kill does nothing.
func (*Child) Kill() {}

// Release does nothing.
func (*Child) Release() {}

// Wait returns ErrUnsupported.
func (*Child) Wait() error { return ErrUnsupported }

// Parent is a predecessor; not available on this platform.
type Parent struct{}

// FromEnv returns nil: no process hands listeners over here.
func FromEnv() (*Parent, error) { return nil, nil }

// Take returns nil.
func (*Parent) Take(string) *os.File { return nil }

// Ready returns ErrUnsupported.
func (*Parent) Ready() error { return ErrUnsupported }

// Fail does nothing.
func (*Parent) Fail(error) {}

// Close does nothing.
func (*Parent) Close() error { return nil }
