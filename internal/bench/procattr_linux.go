package bench

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel send SIGTERM to a server process when the
// bench dies, so an interrupted run leaves no process behind.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
