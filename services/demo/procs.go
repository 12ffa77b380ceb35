package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podwire/podwire/transport"
)

// child is one service process started as `<exe> serve <name> ...`.
type child struct {
	name    string
	dir     string // socket dir
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process exited; nil for kept children
	waitErr error         // cmd.Wait's result, read after done is closed
	cc      *grpc.ClientConn
}

// startChild starts the service name with its socket, data file and log in
// dir. Kept children are detached and not waited for.
func startChild(exe, dir, name string, keep bool, extra ...string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%w: create %s: %v", ErrChild, logPath, err)
	}
	defer logf.Close()
	args := append(childArgs(dir, name), extra...)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	detach(cmd, keep)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s %s: %v; pass a podwire binary", ErrChild, exe, strings.Join(args, " "), err)
	}
	c := &child{name: name, dir: dir, cmd: cmd, logPath: logPath}
	if !keep {
		c.done = make(chan struct{})
		go func() {
			c.waitErr = cmd.Wait()
			close(c.done)
		}()
	}
	return c, nil
}

// childArgs is the command line of service name: every setting the demo
// depends on is an explicit flag, and flags win over the PODWIRE_SERVE_*
// environment the child inherits.
func childArgs(dir, name string) []string {
	return []string{"serve", name,
		"--socket-dir", dir,
		"--data", filepath.Join(dir, name+".db"),
		"--log-format", "text",
		"--log-level", "info",
	}
}

// waitHealthy dials the child by name through podwire and waits until its
// health check says SERVING, the child exits, or timeout passes.
func (c *child) waitHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if c.cc == nil {
			c.cc, last = transport.Dial(ctx, c.name, transport.WithSocketDir(c.dir))
		}
		if c.cc != nil {
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			r, err := healthpb.NewHealthClient(c.cc).Check(cctx, &healthpb.HealthCheckRequest{})
			ccancel()
			if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
				return nil
			}
			last = err
		}
		select {
		case <-c.done:
			return fmt.Errorf("%w: %s exited while starting (%v); its log %s ends with:\n%s", ErrChild, c.name, c.waitErr, c.logPath, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%w: %s not healthy within %v (last error: %v); its log %s ends with:\n%s", ErrChild, c.name, timeout, last, c.logPath, c.logTail())
		case <-tick.C:
		}
	}
}

// stop closes the client, asks the child to stop (SIGTERM), waits up to
// timeout, then kills it. It returns an error if the child had to be
// killed or exited with a failure.
func (c *child) stop(timeout time.Duration) error {
	if c.cc != nil {
		_ = c.cc.Close()
	}
	if c.done == nil {
		return nil
	}
	select {
	case <-c.done:
		return c.exitErr("before the demo stopped it")
	default:
	}
	if err := terminate(c.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%w: signal %s: %v", ErrChild, c.name, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.exitErr("on SIGTERM")
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%w: %s did not stop within %v of SIGTERM and was killed; see %s", ErrChild, c.name, timeout, c.logPath)
	}
}

func (c *child) exitErr(when string) error {
	if c.waitErr != nil {
		return fmt.Errorf("%w: %s exited %s with %v; its log %s ends with:\n%s", ErrChild, c.name, when, c.waitErr, c.logPath, c.logTail())
	}
	return nil
}

// logTail returns the last lines of the child's log.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
