package mux

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// yamux v0.1.2 frame header layout (const.go): version, type, flags,
// stream id, length; 12 bytes. Only data frames carry a body.
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
)

// Write batching limits. maxPending bounds the bytes queued for the
// flusher (yamux's send loop blocks beyond it, which is yamux's normal
// backpressure); buffers up to maxSpare are kept and swapped between the
// send loop and the flusher, so steady bulk traffic allocates nothing.
//
// Bodies are copied into the batch even when large. Over TLS that is what
// keeps records full: a 32 KiB gRPC write becomes a 32 KiB+12 frame, which
// written on its own takes three records and three syscalls (and yamux
// writes the header separately: four), while frames written back to back
// in one batch take two each. The profile of BenchmarkBulk is dominated by
// write syscalls (one per TLS record), so that matters more than the copy;
// writing large bodies uncopied measured slower (BenchmarkTuning).
const (
	maxPending = 256 << 10
	maxSpare   = maxPending + 64<<10
)

// burstGap separates a burst of frames (bulk transfer: hand frames to the
// flusher so the send loop keeps going while a batch is written) from
// isolated frames (a unary request or response: write in the caller, one
// goroutine hand-off less on the critical path). A loopback round trip of
// a small gRPC call is ~50 µs on the 2-core test VM (BenchmarkUnary), so
// frames closer than this belong to one burst.
var burstGap = 20 * time.Microsecond

// batchWrites enables the batching writer in sessions started afterwards;
// only the A/B benchmarks turn it off (then frames go straight through,
// as plain yamux writes them).
var batchWrites = true

// wireConn sits between yamux and the underlying connection.
//
// Writes: yamux's single send goroutine writes each frame as a 12-byte
// header and then its body, two writes, and waits for each (session.go
// sendLoop), so over TLS a frame costs two records and two syscalls and the
// send loop sits idle during every syscall. wireConn instead appends frames
// to a pending buffer and returns; a flusher goroutine writes everything
// pending in one Write per batch. A data header is held until its body
// arrives so a lone header is never flushed on its own. Under load batches
// grow (many frames per TLS write); when idle a frame goes out after one
// goroutine hand-off. Every write carries a WriteTimeout deadline, so a
// stuck peer kills the session instead of wedging the send loop.
//
// Reads: it notes when bytes last arrived (liveness for keepalive) and why
// reading failed (why the session died), and counts bytes for Metrics.
type wireConn struct {
	net.Conn
	// sock is the socket under a TLS conn when it can hold writes and
	// send them in one syscall (internal/rawio); nil otherwise.
	sock         socketBatcher
	writeTimeout time.Duration
	metrics      Metrics
	batch        bool
	deadline     time.Time // write deadline last set on Conn (see write)

	lastRead atomic.Int64          // unix nanos of the last Read that returned bytes
	readErr  atomic.Pointer[error] // first Read error
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64

	// mu guards pending, spare, flushing, closing and werr; cond (on mu)
	// wakes a writer waiting for room in pending.
	mu       sync.Mutex
	cond     *sync.Cond
	pending  []byte // frames queued for the flusher
	spare    []byte // last written batch, reused as the next pending
	flushing bool   // the flusher owns the connection (woken or writing)
	writing  bool   // the caller writes in place and owns the connection
	closing  bool
	werr     error
	// lastWrite is the last write activity (a frame queued or a write
	// finished); a frame within burstGap of it is part of a burst and goes
	// to the flusher, so the send loop keeps queueing while it writes.
	lastWrite time.Time

	// pings counts the peer's ping requests (nil: not checked); flooded,
	// set when it refused one, makes further Reads wait for killed and
	// fail, so yamux acts on no frame after the flood. Only the reading
	// goroutine touches pings and flooded.
	pings    *pingGuard
	flooded  bool
	onFlood  func() // called once, from Read, when pings refuses a frame
	killed   chan struct{}
	killOnce sync.Once

	abort       atomic.Bool   // Close drops what is queued instead of flushing it
	wake        chan struct{} // cap 1: work for the flusher
	stop        chan struct{} // closed by Close
	flusherDone chan struct{}
	closeOnce   sync.Once
}

// socketBatcher is a socket that holds writes between Cork and Flush and
// sends them in one write(2), and can read ahead into a buffer
// (internal/rawio's conns, Linux).
type socketBatcher interface {
	Cork()
	Flush() error
	BufferReads(n int)
}

// socketReadAhead is the read buffer under a TLS session: four full TLS
// records per read(2) in bulk, one small record per read as before for
// a lone request.
const socketReadAhead = 64 << 10

// batcherUnder returns the socket under c when c is a TLS conn whose
// handshake is done (a handshake inside a corked Write would wait for a
// reply to a hello still held in the cork) and the socket is a
// socketBatcher; nil otherwise, and for a bare socket, where a Write is
// already one syscall.
func batcherUnder(c net.Conn) socketBatcher {
	underTLS := false
	for range 8 { // wrappers deep; a longer chain is not ours
		if tc, ok := c.(*tls.Conn); ok {
			if !tc.ConnectionState().HandshakeComplete {
				return nil
			}
			underTLS = true
		} else if b, ok := c.(socketBatcher); ok && underTLS {
			return b
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}

func newWireConn(c net.Conn, writeTimeout time.Duration, m Metrics) *wireConn {
	w := &wireConn{Conn: c, sock: batcherUnder(c), writeTimeout: writeTimeout, metrics: m, batch: batchWrites,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), flusherDone: make(chan struct{}),
		killed: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	w.lastRead.Store(time.Now().UnixNano())
	if w.sock != nil {
		// crypto/tls reads and writes one record (≤ 16 KiB) per call on
		// the socket; batch both, so a 256 KiB batch of frames is one
		// write(2) instead of 16, and reads take up to four records each.
		w.sock.BufferReads(socketReadAhead)
	}
	if w.batch {
		go w.flusher()
	} else {
		close(w.flusherDone)
	}
	return w
}

// Read reads from the underlying connection, notes liveness and follows
// the frames: once the peer's pings exceed their budget, Read returns only
// the bytes before the refused ping, calls onFlood, and then fails.
func (w *wireConn) Read(p []byte) (int, error) {
	if w.flooded {
		<-w.killed // onFlood is closing the session (GoAway first)
		return 0, ErrPingFlood
	}
	n, err := w.Conn.Read(p)
	if n > 0 {
		w.lastRead.Store(time.Now().UnixNano())
		w.bytesIn.Add(uint64(n))
		w.metrics.BytesIn(n)
		if w.pings != nil {
			if k, ok := w.pings.scan.Scan(p[:n], w.pings.fn); !ok {
				w.flooded = true
				w.onFlood()
				return k, nil
			}
		}
	}
	if err != nil {
		// A copy, so that only the error path moves a value to the heap;
		// taking &err directly made every Read allocate.
		e := err
		w.readErr.CompareAndSwap(nil, &e)
	}
	return n, err
}

// Write queues p for the flusher (or writes it through when batching is
// off). It blocks only while maxPending bytes are already queued.
func (w *wireConn) Write(p []byte) (int, error) {
	if !w.batch {
		return w.write(p)
	}
	w.mu.Lock()
	for len(w.pending) >= maxPending && w.werr == nil && !w.closing {
		w.cond.Wait()
	}
	if err := w.werr; err != nil {
		w.mu.Unlock()
		return 0, err
	}
	if w.closing {
		w.mu.Unlock()
		return 0, net.ErrClosed
	}
	held := isDataHeaderWithBody(p)
	// A held header does not count as activity: its body, next, is judged
	// by what came before the frame.
	now := time.Now()
	idle := now.Sub(w.lastWrite) > burstGap
	if !held {
		w.lastWrite = now
	}
	if !w.flushing && !held && idle {
		// Idle: write in the caller, saving the hand-off to the flusher
		// on the latency-critical path of a lone request or response.
		w.writing = true
		batch := append(w.pending, p...)
		w.pending = nil
		w.mu.Unlock()
		_, err := w.write(batch)
		w.mu.Lock()
		w.writing = false
		w.lastWrite = time.Now()
		w.recycle(batch)
		if err != nil && w.werr == nil {
			w.werr = err
		}
		w.mu.Unlock()
		if err != nil {
			w.Conn.Close()
			return 0, err
		}
		return len(p), nil
	}
	w.pending = append(w.pending, p...)
	wake := !w.flushing && !held
	if wake {
		w.flushing = true
	}
	w.mu.Unlock()
	if wake {
		w.wake <- struct{}{} // never blocks: only sent when flushing was false
	}
	return len(p), nil
}

// recycle keeps a written batch for reuse: as the pending buffer if there
// is none, else as the spare. The two buffers alternate between the send
// loop and the flusher, so steady traffic allocates nothing. Called with
// w.mu held.
func (w *wireConn) recycle(batch []byte) {
	if cap(batch) > maxSpare {
		return
	}
	switch {
	case w.pending == nil:
		w.pending = batch[:0]
	case w.spare == nil:
		w.spare = batch[:0]
	}
}

// flusher writes pending batches when woken, and drains what is queued
// when stopped (unless aborted).
func (w *wireConn) flusher() {
	defer close(w.flusherDone)
	for {
		select {
		case <-w.wake:
			w.drain()
		case <-w.stop:
			w.mu.Lock()
			// A caller's in-place write still owns the connection: leave
			// what is queued (the session is closing anyway).
			skip := w.writing || w.abort.Load()
			w.flushing = !skip
			w.mu.Unlock()
			if !skip {
				w.drain()
			}
			return
		}
	}
}

// drain writes pending batches until none is left; the caller owns
// flushing, which drain releases.
func (w *wireConn) drain() {
	for {
		w.mu.Lock()
		if len(w.pending) == 0 || w.werr != nil {
			w.flushing = false
			w.cond.Broadcast() // a large write may be waiting for the connection
			w.mu.Unlock()
			return
		}
		batch := w.pending
		w.pending = w.spare
		w.spare = nil
		w.cond.Broadcast()
		w.mu.Unlock()

		_, err := w.write(batch)

		w.mu.Lock()
		if err != nil && w.werr == nil {
			w.werr = err
			w.cond.Broadcast()
		}
		w.recycle(batch)
		w.lastWrite = time.Now()
		w.mu.Unlock()
		if err != nil {
			// Fail the session: yamux's receive loop sees the close.
			w.Conn.Close()
		}
	}
}

// write writes p under a deadline. Moving the connection's deadline is a
// timer update on every call, so it is only pushed out once less than half
// of WriteTimeout remains: each write gets between WriteTimeout/2 and
// WriteTimeout. Only one goroutine writes at a time (the caller holds
// writing or flushing), which guards deadline.
func (w *wireConn) write(p []byte) (int, error) {
	if now := time.Now(); w.deadline.Sub(now) < w.writeTimeout/2 {
		w.deadline = now.Add(w.writeTimeout)
		if err := w.Conn.SetWriteDeadline(w.deadline); err != nil {
			return 0, err
		}
	}
	if w.sock == nil {
		return w.count(w.Conn.Write(p))
	}
	w.sock.Cork()
	n, err := w.Conn.Write(p)
	if ferr := w.sock.Flush(); ferr != nil && err == nil {
		n, err = 0, ferr
	}
	return w.count(n, err)
}

// count notes n bytes written.
func (w *wireConn) count(n int, err error) (int, error) {
	if n > 0 {
		w.bytesOut.Add(uint64(n))
		w.metrics.BytesOut(n)
	}
	return n, err
}

// Close flushes what is queued (frames yamux already reported as sent,
// such as a final FIN or GoAway), bounded by WriteTimeout, unless abort is
// set; then it closes the underlying connection and waits for the flusher.
func (w *wireConn) Close() error {
	var err error
	w.closeOnce.Do(func() {
		if !w.batch {
			err = w.Conn.Close()
			return
		}
		w.mu.Lock()
		w.closing = true
		w.cond.Broadcast()
		w.mu.Unlock()
		close(w.stop)
		if !w.abort.Load() {
			t := time.NewTimer(w.writeTimeout)
			select {
			case <-w.flusherDone:
			case <-t.C:
			}
			t.Stop()
		}
		err = w.Conn.Close()
		<-w.flusherDone
	})
	w.killOnce.Do(func() { close(w.killed) })
	return err
}

// abortNow makes a Close in progress drop what is queued and unblocks a
// write in progress by closing the connection.
func (w *wireConn) abortNow() {
	w.abort.Store(true)
	w.Conn.Close()
	w.killOnce.Do(func() { close(w.killed) })
}

// isDataHeaderWithBody reports whether p is exactly one yamux data-frame
// header announcing a non-empty body, which yamux writes next.
func isDataHeaderWithBody(p []byte) bool {
	return len(p) == yamuxHeaderSize && p[1] == yamuxTypeData &&
		binary.BigEndian.Uint32(p[8:12]) > 0
}

// sinceRead reports how long before now bytes last arrived.
func (w *wireConn) sinceRead(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, w.lastRead.Load()))
}
