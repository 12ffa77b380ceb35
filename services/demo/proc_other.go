//go:build !unix

package demo

import (
	"os"
	"os/exec"
)

func detach(*exec.Cmd, bool) {}

// terminate stops p; without Unix signals there is no graceful request, so
// it is killed.
func terminate(p *os.Process) error { return p.Kill() }
