package mux

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"time"
)

// yamux v0.1.2 frame header layout (const.go): version, type, flags,
// stream id, length; 12 bytes. Only data frames carry a body.
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
)

// maxCoalesce is the largest body copied to join its frame header in one
// write. Above it the 12-byte header goes out on its own: one extra small
// TLS record is noise next to the copy of a large body.
const maxCoalesce = 32 << 10

// coalesce enables joining frame headers with their bodies in sessions
// started afterwards; only the A/B benchmarks turn it off.
var coalesce = true

// wireConn sits between yamux and the underlying connection. It
//   - joins each yamux data-frame header with its body into one Write, so a
//     frame is one TLS record and one syscall instead of two (yamux's send
//     loop writes them separately, session.go sendLoop);
//   - puts a WriteTimeout deadline on every write, so a stuck peer kills
//     the session instead of wedging yamux's send loop forever;
//   - records when bytes last arrived (liveness for keepalive) and counts
//     bytes for Metrics.
//
// Write is called only by yamux's single send goroutine, so the write-side
// fields need no lock; Read only by its receive goroutine.
type wireConn struct {
	net.Conn
	writeTimeout time.Duration
	metrics      Metrics
	coalesce     bool

	lastRead atomic.Int64          // unix nanos of the last Read that returned bytes
	readErr  atomic.Pointer[error] // first Read error: why the session died
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64

	held []byte // a data-frame header waiting for its body (send goroutine only)
	buf  []byte // reusable header+body buffer (send goroutine only)
}

func newWireConn(c net.Conn, writeTimeout time.Duration, m Metrics) *wireConn {
	w := &wireConn{Conn: c, writeTimeout: writeTimeout, metrics: m, coalesce: coalesce,
		held: make([]byte, 0, yamuxHeaderSize)}
	w.lastRead.Store(time.Now().UnixNano())
	return w
}

// Read reads from the underlying connection and notes liveness.
func (w *wireConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if n > 0 {
		w.lastRead.Store(time.Now().UnixNano())
		w.bytesIn.Add(uint64(n))
		w.metrics.BytesIn(n)
	}
	if err != nil {
		w.readErr.CompareAndSwap(nil, &err)
	}
	return n, err
}

// Write holds a data-frame header until its body arrives, then writes both
// at once; everything else is written straight through.
func (w *wireConn) Write(p []byte) (int, error) {
	if len(w.held) == 0 && w.coalesce && isDataHeaderWithBody(p) {
		w.held = append(w.held, p...)
		return len(p), nil
	}
	if len(w.held) == 0 {
		return w.write(p)
	}
	if len(p) > maxCoalesce {
		if _, err := w.write(w.held); err != nil {
			w.held = w.held[:0]
			return 0, err
		}
		w.held = w.held[:0]
		return w.write(p)
	}
	buf := append(append(w.buf[:0], w.held...), p...)
	w.held = w.held[:0]
	w.buf = buf[:0]
	n, err := w.write(buf)
	n -= yamuxHeaderSize
	if n < 0 {
		n = 0
	}
	return n, err
}

func (w *wireConn) write(p []byte) (int, error) {
	if err := w.Conn.SetWriteDeadline(time.Now().Add(w.writeTimeout)); err != nil {
		return 0, err
	}
	n, err := w.Conn.Write(p)
	if n > 0 {
		w.bytesOut.Add(uint64(n))
		w.metrics.BytesOut(n)
	}
	return n, err
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
