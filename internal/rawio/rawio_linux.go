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
	"google.golang.org/grpc/mem"
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
			return &TCPConn{TCPConn: t, batching: batching{io, t}}
		}
	case *net.UnixConn:
		if io, ok := newIO(t); ok {
			return &UnixConn{UnixConn: t, batching: batching{io, t}}
		}
	}
	return c
}

// TCPConn is a *net.TCPConn whose Read and Write are raw syscalls.
type TCPConn struct {
	*net.TCPConn
	batching
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
	batching
}

// Read reads like net.UnixConn.Read.
func (c *UnixConn) Read(p []byte) (int, error) { return c.io.read(c.UnixConn, p) }

// Write writes like net.UnixConn.Write.
func (c *UnixConn) Write(p []byte) (int, error) { return c.io.write(c.UnixConn, p) }

// Unwrap returns the wrapped conn.
func (c *UnixConn) Unwrap() net.Conn { return c.UnixConn }

// batching holds the methods both conn types add beyond net.Conn; c is
// the wrapped conn, for error messages.
type batching struct {
	io *rawIO
	c  net.Conn
}

// Cork holds Writes in a buffer until Flush (see rawIO.cork).
func (b batching) Cork() { b.io.cork() }

// Flush writes what Cork held in one write(2) and ends the cork.
func (b batching) Flush() error { return b.io.flush(b.c) }

// BufferReads makes Reads fill a buffer of n bytes (see rawIO.bufferReads).
func (b batching) BufferReads(n int) { b.io.bufferReads(n) }

// ReadOnReady waits until the socket is readable and only then takes a
// buffer from pool and reads into it: grpc-go's optional non-pinning read
// (see rawIO.readOnReady).
func (b batching) ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	return b.io.readOnReady(b.c, bufSize, pool)
}

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

	// rb, when set, is the read buffer (bufferReads); rb[rs:re] is read
	// from the socket and not yet returned. Guarded by rmu.
	rb     []byte
	rs, re int
	// One readOnReady's pool, size and buffer. Guarded by rmu.
	pool    mem.BufferPool
	psize   int
	pbuf    *[]byte
	readyFn func(uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	writeFn func(uintptr) bool
	// corked holds Writes in held until flush. Guarded by wmu.
	corked bool
	held   []byte
}

// maxHeld is the largest cork buffer kept between flushes; a larger one
// (a burst) is dropped after its flush so an idle conn does not keep it.
const maxHeld = 1 << 20

// cork makes writes append to a buffer until flush. It is for the
// writer of a TLS conn over this socket: crypto/tls writes every record
// (at most 16 KiB) with its own Write, so a 256 KiB batch of mux frames
// would cost 16 write(2)s; corked around tls.Conn.Write it costs one.
func (r *rawIO) cork() {
	r.wmu.Lock()
	r.corked = true
	r.wmu.Unlock()
}

// flush ends the cork and writes what it held.
func (r *rawIO) flush(c net.Conn) error {
	r.wmu.Lock()
	r.corked = false
	held := r.held
	var err error
	if len(held) > 0 {
		_, err = r.writeLocked(c, held)
	}
	if cap(held) > maxHeld {
		r.held = nil
	} else {
		r.held = held[:0]
	}
	r.wmu.Unlock()
	return err
}

// bufferReads makes reads fill a buffer of n bytes and serve smaller
// reads from it. It is for a TLS conn over this socket: crypto/tls asks
// for one record at a time, so bulk traffic cost a read(2) per 16 KiB
// record; with a 64 KiB buffer it costs one per four. Call it before the
// first Read.
func (r *rawIO) bufferReads(n int) {
	r.rmu.Lock()
	if r.rb == nil && n > 0 {
		r.rb = make([]byte, n)
	}
	r.rmu.Unlock()
}

func newIO(sc syscall.Conn) (*rawIO, bool) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	r := &rawIO{rc: rc}
	r.readFn = r.doRead
	r.readyFn = r.doReadyRead
	r.writeFn = r.doWrite
	return r, true
}

// rawRead is read(2) into p, retried on EINTR.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != unix.EINTR {
			return int(n), e
		}
	}
}

// doRead is one read attempt; false asks RawConn.Read to wait for
// readability and call again.
func (r *rawIO) doRead(fd uintptr) bool {
	n, e := rawRead(fd, r.rbuf)
	if e == unix.EAGAIN {
		return false
	}
	r.rn, r.rerr = n, e
	return true
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

// readOnReady is grpc-go's ReadOnReady (its internal readyreader.Reader,
// which it looks for on the conn it is given): grpc then holds a read
// buffer only while bytes wait, not for every idle connection. grpc does
// this itself for a bare *net.UnixConn or *net.TCPConn; without it a
// rawio conn cost each idle channel a pinned 32 KiB buffer (idle_mem
// 16 → 49 KiB per channel in the bench).
func (r *rawIO) readOnReady(c net.Conn, bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.rs < r.re {
		b := pool.Get(bufSize)
		n := copy(*b, r.rb[r.rs:r.re])
		r.rs += n
		return b, n, nil
	}
	r.pool, r.psize, r.pbuf, r.rn, r.rerr = pool, bufSize, nil, 0, 0
	err := r.rc.Read(r.readyFn)
	b, n := r.pbuf, r.rn
	r.pool, r.pbuf = nil, nil
	if err := readResult(c, err, r.rerr, n); err != nil {
		return nil, 0, err
	}
	return b, n, nil
}

// doReadyRead is one readOnReady attempt: a pooled buffer is taken for
// the read and given back unless it holds bytes.
func (r *rawIO) doReadyRead(fd uintptr) bool {
	b := r.pool.Get(r.psize)
	n, e := rawRead(fd, *b)
	if e != 0 || n == 0 {
		r.pool.Put(b)
		if e == unix.EAGAIN {
			return false
		}
		b = nil
	}
	r.pbuf, r.rn, r.rerr = b, n, e
	return true
}

func (r *rawIO) read(c net.Conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.rb == nil || len(p) >= len(r.rb) {
		if r.rs < r.re { // buffered bytes first
			n := copy(p, r.rb[r.rs:r.re])
			r.rs += n
			return n, nil
		}
		return r.readLocked(c, p)
	}
	if r.rs == r.re {
		n, err := r.readLocked(c, r.rb)
		if err != nil {
			return 0, err
		}
		r.rs, r.re = 0, n
	}
	n := copy(p, r.rb[r.rs:r.re])
	r.rs += n
	return n, nil
}

// readLocked is one read into p; the caller holds rmu.
func (r *rawIO) readLocked(c net.Conn, p []byte) (int, error) {
	r.rbuf, r.rn, r.rerr = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	if err := readResult(c, err, r.rerr, r.rn); err != nil {
		return 0, err
	}
	return r.rn, nil
}

// readResult is what net.Conn's Read reports for a read that ended with
// err (from RawConn: closed, deadline), errno (from read(2)) and n bytes:
// nil when bytes came, io.EOF for the peer's end of stream.
func readResult(c net.Conn, err error, errno syscall.Errno, n int) error {
	switch {
	case err != nil:
		return opError(c, "read", err)
	case errno != 0:
		return opError(c, "read", os.NewSyscallError("read", errno))
	case n == 0:
		return io.EOF
	}
	return nil
}

func (r *rawIO) write(c net.Conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.corked {
		r.held = append(r.held, p...)
		return len(p), nil
	}
	return r.writeLocked(c, p)
}

// writeLocked writes all of p; the caller holds wmu.
func (r *rawIO) writeLocked(c net.Conn, p []byte) (int, error) {
	r.wbuf, r.wn, r.werr = p, 0, 0
	err := r.rc.Write(r.writeFn)
	n, errno := r.wn, r.werr
	r.wbuf = nil
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
