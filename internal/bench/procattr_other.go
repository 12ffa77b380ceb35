//go:build !linux

package bench

import "os/exec"

// setDeathSignal does nothing where the kernel has no parent-death signal;
// the bench stops its processes itself.
func setDeathSignal(*exec.Cmd) {}
