//go:build unix

package demo

import (
	"os"
	"os/exec"
	"syscall"
)

// detach puts a kept child in its own session so it outlives the demo and
// the terminal; otherwise in its own process group, so a Ctrl-C meant for
// the demo reaches the children only through the demo's graceful stop.
func detach(cmd *exec.Cmd, keep bool) {
	if keep {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks p to stop gracefully.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
