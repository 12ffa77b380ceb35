package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procStartTimeout bounds how long a server process may take to listen.
const procStartTimeout = 15 * time.Second

// proc is one OS process serving a row in the deployed placement: a bench
// child, a sidecar or an nginx.
type proc struct {
	role string
	cmd  *exec.Cmd
	// stdin and out talk to a bench child (nil for other processes).
	stdin io.WriteCloser
	out   *bufio.Reader
	// admin is a sidecar's admin socket, for its GOMAXPROCS and scheduler counts.
	admin string
	// goProcs is the process's GOMAXPROCS (0: not a Go process or unknown).
	goProcs int
	stderr  *capBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done closes

	mu sync.Mutex // guards stdin and out while asking for stats
}

// capBuffer keeps the first 4 KiB written to it (a child's stderr).
type capBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := 4096 - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.b.String())
}

// launcher says how the deployed placement starts processes.
type launcher struct {
	exe         string
	childArgs   []string
	sidecarArgs []string
}

// startProc starts argv with extra environment entries; stdin and stdout
// are pipes when pipes is set.
func startProc(role string, argv, env []string, pipes bool) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	setDeathSignal(cmd)
	p := &proc{role: role, cmd: cmd, stderr: &capBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if pipes {
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("stdin pipe: %w", err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("stdout pipe: %w", err)
		}
		p.stdin, p.out = in, bufio.NewReader(out)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited describes how the process ended, with the start of its stderr.
func (p *proc) exited() error {
	msg := p.stderr.String()
	if msg == "" {
		msg = "(no output)"
	}
	return fmt.Errorf("%s (pid %d) exited: %v; stderr: %s", p.role, p.pid(), p.waitErr, msg)
}

// readLine reads one line from a bench child under ctx, or fails when the
// child exits first.
func (p *proc) readLine(ctx context.Context) ([]byte, error) {
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := p.out.ReadBytes('\n')
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			<-p.done
			return nil, p.exited()
		}
		return r.b, nil
	case <-ctx.Done():
		p.stop()
		<-ch
		return nil, fmt.Errorf("%s did not answer: %w", p.role, ctx.Err())
	}
}

// spawnServer starts spec in a bench child and waits until it listens.
func (l launcher) spawnServer(ctx context.Context, role string, spec serverSpec) (*proc, serverAddrs, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, serverAddrs{}, fmt.Errorf("encode server spec: %w", err)
	}
	p, err := startProc(role, append([]string{l.exe}, l.childArgs...), []string{ChildEnv + "=" + string(b)}, true)
	if err != nil {
		return nil, serverAddrs{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, procStartTimeout)
	defer cancel()
	line, err := p.readLine(ctx)
	if err != nil {
		return nil, serverAddrs{}, err
	}
	var r childReady
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, serverAddrs{}, errors.Join(fmt.Errorf("%s: ready line %q: %w", role, line, err), p.stop())
	}
	p.goProcs = r.GOMAXPROCS
	return p, r.Addrs, nil
}

// goStats asks a bench child or a sidecar for its scheduler counts; ok is
// false for processes that are not Go or did not answer.
func (p *proc) goStats(ctx context.Context) (goStats, bool) {
	switch {
	case p.stdin != nil:
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, err := io.WriteString(p.stdin, "stats\n"); err != nil {
			return goStats{}, false
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		line, err := p.readLine(ctx)
		if err != nil {
			return goStats{}, false
		}
		var s goStats
		return s, json.Unmarshal(line, &s) == nil
	case p.admin != "":
		return sidecarGoStats(ctx, p.admin)
	}
	return goStats{}, false
}

// stop ends the process: EOF on stdin for a bench child, SIGTERM for the
// others, SIGKILL after five seconds. It waits for the exit.
func (p *proc) stop() error {
	if p.stdin != nil {
		p.stdin.Close()
	} else if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s (pid %d) did not stop within 5s; killed", p.role, p.pid())
}
