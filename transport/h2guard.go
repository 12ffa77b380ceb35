package transport

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP/2 rapid reset (CVE-2023-44487) on the h2 port: a client opens a
// stream and resets it at once, over and over. grpc-go bounds the handlers
// one connection runs by MaxConcurrentStreams, but a handler that returns
// at once frees its slot at once, so the loop never ends: 1.2 M
// HEADERS+RST_STREAM pairs in 15.5 s cost ~0.9 core and drew no GOAWAY
// (issue 12). h2Guard counts the RST_STREAM frames a client sends on an h2
// connection of the TLS port and closes the connection when they exceed a
// budget: a burst of h2ResetBurst, refilled at h2ResetsPerSecond. A client
// that cancels calls as fast as it makes them at a high rate is cut off and
// reconnects; ordinary cancellations never come near the budget.
const (
	// h2ResetBurst is the RST_STREAM frames a client may send at once; as
	// many as DefaultMaxConcurrentStreams calls cancelled together.
	h2ResetBurst = DefaultMaxConcurrentStreams
	// h2ResetsPerSecond refills the budget.
	h2ResetsPerSecond = 200
)

// ErrTooManyResets means an h2 connection was closed because its client
// reset streams faster than the rapid-reset budget allows.
var ErrTooManyResets = errors.New("podwire/transport: client reset too many HTTP/2 streams (rapid reset); connection closed")

// h2ResetsClosed counts h2 connections closed for rapid reset.
var h2ResetsClosed = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "podwire_transport_h2_rapid_reset_closed_total",
	Help: "h2 connections on the TLS port closed because the client reset streams faster than the rapid-reset budget.",
})

// h2Guard is an h2 (gRPC over TLS) server connection that scans the
// frames the client sends and closes the connection on a rapid reset.
// grpc reads it from one goroutine; Read is not for concurrent use.
type h2Guard struct {
	*tls.Conn
	log  *slog.Logger
	scan h2Scanner

	mu     sync.Mutex // guards tokens and last
	tokens float64
	last   time.Time
}

// newH2Guard wraps an h2 connection of the TLS port.
func newH2Guard(tc *tls.Conn, log *slog.Logger) *h2Guard {
	return &h2Guard{Conn: tc, log: log, scan: h2Scanner{preface: len(h2Preface)}, tokens: h2ResetBurst, last: time.Now()}
}

// Read reads from the TLS connection and counts the client's resets; over
// the budget it closes the connection and returns ErrTooManyResets.
func (g *h2Guard) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	if n > 0 {
		if resets := g.scan.feed(b[:n]); resets > 0 && !g.spend(resets, time.Now()) {
			h2ResetsClosed.Inc()
			g.log.Warn("podwire: closing h2 connection: client resets streams too fast (HTTP/2 rapid reset)",
				"remote", g.RemoteAddr().String(), "burst", h2ResetBurst, "per_second", h2ResetsPerSecond)
			g.Conn.Close()
			return 0, ErrTooManyResets
		}
	}
	return n, err
}

// spend takes n resets from the budget, refilled since the last call; false
// when the budget is exhausted.
func (g *h2Guard) spend(n int, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens = min(h2ResetBurst, g.tokens+now.Sub(g.last).Seconds()*h2ResetsPerSecond)
	g.last = now
	g.tokens -= float64(n)
	return g.tokens >= 0
}

// h2Preface is the client connection preface (RFC 9113 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2FrameRSTStream is the RST_STREAM frame type.
const h2FrameRSTStream = 0x3

// h2Scanner follows the frame boundaries of a client's HTTP/2 byte stream
// fed in arbitrary pieces, and counts RST_STREAM frames. It only reads the
// 9-byte frame headers and skips payloads; grpc validates everything.
type h2Scanner struct {
	preface int     // preface bytes still to skip
	hdr     [9]byte // a frame header being collected
	hn      int     // bytes of hdr collected
	skip    int     // payload bytes of the current frame still to skip
}

// feed consumes b and returns how many RST_STREAM frame headers it
// completed.
func (s *h2Scanner) feed(b []byte) (resets int) {
	for len(b) > 0 {
		switch {
		case s.preface > 0:
			k := min(s.preface, len(b))
			s.preface -= k
			b = b[k:]
		case s.skip > 0:
			k := min(s.skip, len(b))
			s.skip -= k
			b = b[k:]
		default:
			k := copy(s.hdr[s.hn:], b)
			s.hn += k
			b = b[k:]
			if s.hn < len(s.hdr) {
				return resets
			}
			s.hn = 0
			s.skip = int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2])
			if s.hdr[3] == h2FrameRSTStream {
				resets++
			}
		}
	}
	return resets
}
