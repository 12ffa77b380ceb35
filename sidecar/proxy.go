package sidecar

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// copyBufSize is the size of the pooled copy buffers: large enough for a
// full HTTP/2 DATA frame of gRPC's default 16 KiB plus headers in one read.
const copyBufSize = 32 << 10

// bufPool holds *[]byte of copyBufSize, shared by all copies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// flow counts the bytes of one proxied pair. tx flows from the local app
// toward the remote peer, rx the other way. Safe for concurrent use.
type flow struct {
	tx, rx atomic.Int64
}

// closeWriter is a conn that can half-close (TCP, Unix, mux streams).
type closeWriter interface{ CloseWrite() error }

// pipe copies app→remote and remote→app until both directions end, then
// closes both. A clean EOF on one side half-closes the other (so gRPC's
// and other protocols' half-close semantics survive the proxy); an error
// on either side closes both at once. count is called from both copy
// loops with the bytes moved (tx: app→remote).
func pipe(app, remote net.Conn, count func(tx bool, n int)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(remote, app, func(n int) { count(true, n) })
	}()
	copyHalf(app, remote, func(n int) { count(false, n) })
	<-done
	app.Close()
	remote.Close()
}

// copyHalf copies src into dst with a pooled buffer. On EOF it
// half-closes dst; on any other error it closes both ends so the opposite
// copy unblocks too.
//
// It reads until EAGAIN even after a short read (net.Conn.Read does that
// before it parks): Go's poller is edge-triggered, and a peer's shutdown
// that arrived with the last data is only seen by the next read. Waiting
// for readiness after a short read instead (a raw-conn loop, one read(2)
// less per message) hung TestPairHalfClose, and the call it saved was off
// the critical path: no change in BenchmarkUnaryPair.
func copyHalf(dst, src net.Conn, count func(int)) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				dst.Close()
				src.Close()
				return
			}
			count(n)
		}
		if rerr == nil {
			continue
		}
		if errors.Is(rerr, io.EOF) {
			if cw, ok := dst.(closeWriter); ok {
				if cw.CloseWrite() == nil {
					return
				}
			}
		}
		dst.Close()
		src.Close()
		return
	}
}
