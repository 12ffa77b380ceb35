//go:build linux

package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Enabled reports whether Wrap changes conns on this platform.
const Enabled = true

// Wrap returns c reading and writing with raw syscalls when c is a
// *net.TCPConn or *net.UnixConn (the result keeps every method of the
// concrete type: CloseWrite, SyscallConn, SetNoDelay, ...), and c itself
// otherwise or when its descriptor is not reachable.
func Wrap(c net.Conn) net.Conn {
	switch t := c.(type) {
	case *net.TCPConn:
		if io, ok := newIO(t); ok {
			return &TCPConn{TCPConn: t, io: io}
		}
	case *net.UnixConn:
		if io, ok := newIO(t); ok {
			return &UnixConn{UnixConn: t, io: io}
		}
	}
	return c
}

// TCPConn is a *net.TCPConn whose Read and Write are raw syscalls.
type TCPConn struct {
	*net.TCPConn
	io *rawIO
}

// Read reads like net.TCPConn.Read.
func (c *TCPConn) Read(p []byte) (int, error) { return c.io.read(c.TCPConn, p) }

// Write writes like net.TCPConn.Write.
func (c *TCPConn) Write(p []byte) (int, error) { return c.io.write(c.TCPConn, p) }

// Unwrap returns the wrapped conn.
func (c *TCPConn) Unwrap() net.Conn { return c.TCPConn }

// UnixConn is a *net.UnixConn whose Read and Write are raw syscalls.
type UnixConn struct {
	*net.UnixConn
	io *rawIO
}

// Read reads like net.UnixConn.Read.
func (c *UnixConn) Read(p []byte) (int, error) { return c.io.read(c.UnixConn, p) }

// Write writes like net.UnixConn.Write.
func (c *UnixConn) Write(p []byte) (int, error) { return c.io.write(c.UnixConn, p) }

// Unwrap returns the wrapped conn.
func (c *UnixConn) Unwrap() net.Conn { return c.UnixConn }

// rawIO holds the descriptor access and one operation's state per
// direction. The state lives here, and the callbacks are bound once, so
// that a Read or Write allocates nothing; rmu and wmu keep concurrent
// readers (or writers) from sharing it, as net.Conn allows them.
type rawIO struct {
	rc syscall.RawConn

	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerr   syscall.Errno
	readFn func(uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	writeFn func(uintptr) bool
}

func newIO(sc syscall.Conn) (*rawIO, bool) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	r := &rawIO{rc: rc}
	r.readFn = r.doRead
	r.writeFn = r.doWrite
	return r, true
}

// doRead is one read(2) attempt; false asks RawConn.Read to wait for
// readability and call again.
func (r *rawIO) doRead(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.rbuf[0])), uintptr(len(r.rbuf)))
		switch e {
		case 0:
			r.rn = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			r.rerr = e
			return true
		}
	}
}

// doWrite writes as much of wbuf as the socket takes; false asks
// RawConn.Write to wait for writability and call again.
func (r *rawIO) doWrite(fd uintptr) bool {
	for r.wn < len(r.wbuf) {
		p := r.wbuf[r.wn:]
		n, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			r.wn += int(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			r.werr = e
			return true
		}
	}
	return true
}

func (r *rawIO) read(c net.Conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rmu.Lock()
	r.rbuf, r.rn, r.rerr = p, 0, 0
	err := r.rc.Read(r.readFn)
	n, errno := r.rn, r.rerr
	r.rbuf = nil
	r.rmu.Unlock()
	switch {
	case err != nil:
		return 0, opError(c, "read", err)
	case errno != 0:
		return 0, opError(c, "read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (r *rawIO) write(c net.Conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wmu.Lock()
	r.wbuf, r.wn, r.werr = p, 0, 0
	err := r.rc.Write(r.writeFn)
	n, errno := r.wn, r.werr
	r.wbuf = nil
	r.wmu.Unlock()
	switch {
	case err != nil:
		return n, opError(c, "write", err)
	case errno != 0:
		return n, opError(c, "write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError reports err as net.Conn's Read and Write do: a *net.OpError
// with the op, the addresses and the cause (net.ErrClosed,
// os.ErrDeadlineExceeded or a syscall error), never RawConn's "raw-read".
func opError(c net.Conn, op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
