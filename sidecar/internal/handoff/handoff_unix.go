//go:build unix

package handoff

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Child is a successor process started by Start.
type Child struct {
	cmd    *exec.Cmd
	conn   *net.UnixConn
	exited chan struct{} // closed when the process has been waited for
	err    error         // its exit status; valid after exited is closed
}

// Start runs exe with args (args[0] is the program name, as in os.Args)
// and env plus EnvFD, with stdout and stderr shared with this process,
// and sends it files under their keys. The files stay open in the caller.
func Start(exe string, args, env []string, files map[string]*os.File) (*Child, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("podwire/handoff: socketpair: %w", err)
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1]) // exec.Cmd dups it to fd 3 for the successor only
	mine, theirs := os.NewFile(uintptr(fds[0]), "handoff"), os.NewFile(uintptr(fds[1]), "handoff-child")
	defer theirs.Close()
	fc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, fmt.Errorf("podwire/handoff: %w", err)
	}
	conn := fc.(*net.UnixConn)
	cmd := &exec.Cmd{
		Path: exe, Args: args, Env: append(env, EnvFD+"=3"),
		Stdout: os.Stdout, Stderr: os.Stderr, ExtraFiles: []*os.File{theirs},
		// As PID 1 (a container's init), put the successors in their own
		// process group, so that the old process, staying as init, can
		// forward signals to every later generation at once.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: os.Getpid() == 1},
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("podwire/handoff: start %s: %w", exe, err)
	}
	c := &Child{cmd: cmd, conn: conn, exited: make(chan struct{})}
	go func() { // ends when the process exits
		c.err = cmd.Wait()
		close(c.exited)
	}()
	if err := send(conn, files); err != nil {
		c.Kill()
		return nil, err
	}
	return c, nil
}

// send writes the key list with the descriptors attached.
func send(conn *net.UnixConn, files map[string]*os.File) error {
	var msg message
	var fds []int
	for k, f := range files {
		// Not f.Fd(): it would switch the shared file description, and so
		// the listener still accepting in this process, to blocking mode.
		rc, err := f.SyscallConn()
		if err != nil {
			return fmt.Errorf("podwire/handoff: listener %s: %w", k, err)
		}
		if err := rc.Control(func(fd uintptr) { fds = append(fds, int(fd)) }); err != nil {
			return fmt.Errorf("podwire/handoff: listener %s: %w", k, err)
		}
		msg.Keys = append(msg.Keys, k)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	buf := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	buf = append(buf, body...)
	if _, _, err := conn.WriteMsgUnix(buf, unix.UnixRights(fds...), nil); err != nil {
		return fmt.Errorf("podwire/handoff: send %d listeners: %w", len(fds), err)
	}
	return nil
}

// Pid returns the successor's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// WaitReady waits until the successor reports Ready (nil), reports Fail
// (its reason), exits (its exit status) or ctx ends (then it is killed).
func (c *Child) WaitReady(ctx context.Context) error {
	line := make(chan string, 1)
	go func() { // ends when the successor writes, exits or Kill closes conn
		s, _ := bufio.NewReader(c.conn).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		switch {
		case s == "ready\n":
			return nil
		case strings.HasPrefix(s, "error: "):
			c.Kill()
			return fmt.Errorf("new process failed to start: %s", strings.TrimSpace(strings.TrimPrefix(s, "error: ")))
		}
		c.Kill()
		return fmt.Errorf("new process exited before it was ready (%v); its log says why", c.err)
	case <-ctx.Done():
		c.Kill()
		<-line
		return fmt.Errorf("new process not ready in time: %w", ctx.Err())
	}
}

// Kill stops the successor and waits for it.
func (c *Child) Kill() {
	c.cmd.Process.Kill()
	c.conn.Close()
	<-c.exited
}

// Release closes this side of the handoff socket; the successor runs on.
func (c *Child) Release() { c.conn.Close() }

// Wait waits for the successor to exit and returns its exit status.
func (c *Child) Wait() error {
	<-c.exited
	return c.err
}

// Parent is a predecessor seen from the successor started by Start.
type Parent struct {
	conn *net.UnixConn

	mu    sync.Mutex // guards files
	files map[string]*os.File
}

// FromEnv returns the handoff from the process that started this one, or
// nil when EnvFD is not set (a normal start). It unsets EnvFD, so this
// process's own successors do not see it.
func FromEnv() (*Parent, error) {
	v, ok := os.LookupEnv(EnvFD)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("podwire/handoff: %s=%q is not a descriptor; unset it", EnvFD, v)
	}
	f := os.NewFile(uintptr(fd), "handoff")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("podwire/handoff: %s=%d: %w", EnvFD, fd, err)
	}
	p := &Parent{conn: fc.(*net.UnixConn), files: map[string]*os.File{}}
	if err := p.receive(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// receive reads the key list and the descriptors.
func (p *Parent) receive() error {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*253))
	n, oobn, _, _, err := p.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return fmt.Errorf("podwire/handoff: receive listeners: %w", err)
	}
	var fds []int
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return fmt.Errorf("podwire/handoff: parse control message: %w", err)
	}
	for _, m := range cmsgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fmt.Errorf("podwire/handoff: parse descriptors: %w", err)
		}
		fds = append(fds, got...)
	}
	keys, err := readMessage(p.conn, buf[:n])
	if err != nil || len(keys) != len(fds) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		if err == nil {
			err = fmt.Errorf("podwire/handoff: %d keys for %d descriptors", len(keys), len(fds))
		}
		return err
	}
	for i, k := range keys {
		unix.CloseOnExec(fds[i])
		p.files[k] = os.NewFile(uintptr(fds[i]), k)
	}
	return nil
}

// readMessage completes the length-prefixed message whose first bytes
// are head and returns its keys.
func readMessage(r io.Reader, head []byte) ([]string, error) {
	if len(head) < 4 {
		more := make([]byte, 4-len(head))
		if _, err := io.ReadFull(r, more); err != nil {
			return nil, fmt.Errorf("podwire/handoff: read message length: %w", err)
		}
		head = append(head, more...)
	}
	n := binary.BigEndian.Uint32(head)
	if n > maxMessage {
		return nil, fmt.Errorf("podwire/handoff: message of %d bytes exceeds %d", n, maxMessage)
	}
	body := append([]byte(nil), head[4:]...)
	if uint32(len(body)) < n {
		more := make([]byte, int(n)-len(body))
		if _, err := io.ReadFull(r, more); err != nil {
			return nil, fmt.Errorf("podwire/handoff: read message: %w", err)
		}
		body = append(body, more...)
	}
	var msg message
	if err := json.Unmarshal(body[:n], &msg); err != nil {
		return nil, fmt.Errorf("podwire/handoff: decode message: %w", err)
	}
	return msg.Keys, nil
}

// Take returns the descriptor passed under key and forgets it (the
// caller closes it), or nil.
func (p *Parent) Take(key string) *os.File {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.files[key]
	delete(p.files, key)
	return f
}

// Ready tells the predecessor this process serves; it then stops
// accepting and drains.
func (p *Parent) Ready() error {
	_, err := io.WriteString(p.conn, "ready\n")
	return err
}

// Fail tells the predecessor this process could not start, and why; it
// keeps serving.
func (p *Parent) Fail(reason error) {
	io.WriteString(p.conn, "error: "+strings.ReplaceAll(reason.Error(), "\n", " ")+"\n")
}

// Close closes the descriptors nobody took and the handoff socket.
func (p *Parent) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, f := range p.files {
		f.Close()
		delete(p.files, k)
	}
	return errors.Join(p.conn.Close())
}
