//go:build unix

package sidecar

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// supervise keeps PID 1 alive after a restart handed the listeners to a
// successor. In a container the first process is PID 1: when it exits the
// kernel kills every other process of the container, successor included.
// So the old process, once drained, stays as a thin init: it forwards
// SIGTERM, SIGINT and SIGHUP to the successors' process group (started
// with Setpgid by handoff.Start when the caller is PID 1; later
// generations inherit the group), reaps every child and orphan, and
// returns when none is left, with the last one's exit status.
func supervise(log *slog.Logger, group int) error {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	log.Info("PID 1: supervising the restarted sidecar; signals are forwarded to it", "process_group", group)
	var last error
	for {
		for { // reap everything that has exited
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if errors.Is(err, unix.ECHILD) {
				log.Info("PID 1: no sidecar process left; exiting")
				return last
			}
			if err != nil || pid <= 0 {
				break
			}
			last = nil
			if ws.ExitStatus() != 0 || ws.Signaled() {
				last = fmt.Errorf("podwire/sidecar: restarted process %d ended with %v", pid, exitText(ws))
			}
		}
		sig := <-sigs
		if sig == syscall.SIGCHLD {
			continue
		}
		if err := unix.Kill(-group, sig.(syscall.Signal)); err != nil && !errors.Is(err, unix.ESRCH) {
			log.Warn("PID 1: forwarding a signal failed", "signal", sig.String(), "err", err)
		}
	}
}

// exitText describes a wait status.
func exitText(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
