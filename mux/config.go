package mux

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
)

// minStreamWindow is yamux's fixed initial stream window: a peer may always
// send this much before the first window update, so no smaller bound on
// pending bytes per stream is possible on the wire.
const minStreamWindow = 256 * 1024

// Config tunes a Session. A zero field means its documented default (the
// value DefaultConfig returns), so Config{} is the shipped tuning and
// Config{HeaderTimeout: time.Second} changes only that field. Validate
// rejects only fields that are set and out of range. A Config is a value:
// copying it is safe.
type Config struct {
	// AcceptBacklog is how many inbound streams may wait for Accept; an
	// inbound stream arriving when the backlog is full is refused with
	// RESOURCE_EXHAUSTED. It also caps this side's un-acknowledged opens
	// (yamux's SYN window). Default 256.
	AcceptBacklog int

	// MaxInboundStreams caps concurrent inbound streams (accepted or
	// waiting in the backlog, not yet closed by this side). Excess streams
	// are refused with a StreamReply of RESOURCE_EXHAUSTED, which the
	// opener's DialService returns as a *RefusedError. Default 1024.
	MaxInboundStreams int

	// StreamWindow is the maximum receive window per stream, which is the
	// most bytes a stream buffers for a reader that does not read. At least
	// 256 KiB (yamux's initial window). Default 1 MiB.
	StreamWindow uint32

	// KeepAliveInterval is the ping period; each pong also updates RTT.
	// Default 15 s.
	KeepAliveInterval time.Duration

	// KeepAliveTimeout is how long after a ping the session waits for a
	// pong, or any other inbound bytes, before declaring the session dead.
	// It is independent of WriteTimeout. Default 10 s.
	KeepAliveTimeout time.Duration

	// WriteTimeout bounds one write to the underlying connection and the
	// wait to queue a frame; a write that takes longer kills the session.
	// Default 10 s.
	WriteTimeout time.Duration

	// HeaderTimeout is the deadline for reading a podwire.wire.v1 header
	// (acceptor) or reply (opener, when the context has no earlier deadline).
	// Default 5 s.
	HeaderTimeout time.Duration

	// StreamCloseTimeout bounds how long a stream closed by this side waits
	// for the peer's close before it is reset and forgotten. Default 30 s.
	StreamCloseTimeout time.Duration

	// MaxPingsPerSecond bounds the ping requests a peer may send: a token
	// bucket of this rate and burst. yamux answers each ping in a new
	// goroutine, so a peer that floods pings (and does not read the
	// replies) would grow goroutines and memory without bound; a session
	// whose peer exceeds the rate is sent GoAway and closed
	// (ErrPingFlood, Metrics.SessionKilled "ping_flood"). podwire itself
	// pings once per KeepAliveInterval. Default 100.
	MaxPingsPerSecond int

	// MaxRefusalsPerSecond bounds the streams this side may refuse on one
	// session (at its stream limits, or by a Refuse from the layer above:
	// unknown service, denied peer), as a token bucket of this rate and
	// burst. A peer past it is sent GoAway and the session closed
	// (ErrRefusalFlood, Metrics.SessionKilled "refusal_flood"). Default 200.
	MaxRefusalsPerSecond int

	// StreamQuota, if set, bounds the inbound streams held across every
	// session that shares it (one per server or listener, not a package
	// global); a stream past it is refused with RESOURCE_EXHAUSTED. Nil
	// means only the per-session MaxInboundStreams applies.
	StreamQuota *StreamQuota

	// Logger receives session events. Nil discards them.
	Logger *slog.Logger

	// Metrics receives counters and gauges. Nil records nothing.
	Metrics Metrics
}

// DefaultConfig returns the tuning podwire ships with: the value every zero
// field of a Config stands for. The reason for each
// value is next to it; figures come from this package's tests and
// benchmarks on a shared 2-core Linux VM (go test -bench . ./mux).
func DefaultConfig() Config {
	return Config{
		// yamux's default. Our accept loop takes streams from yamux at
		// once, so this only absorbs bursts between Accept calls; it also
		// caps this side's un-acknowledged opens, which a podwire peer
		// acknowledges immediately. No measurement argued for another value.
		AcceptBacklog: 256,
		// Equal to DefaultPoolConfig().MaxStreamsPerSession, so a podwire
		// Pool spills to a new session before a podwire peer refuses.
		// TestManyStreams: an open stream costs ~4.1 KB of heap for both
		// ends together, so 1024 idle streams are ~4 MiB; the hard bound
		// if every reader stalls is 1024 × StreamWindow of unread data.
		MaxInboundStreams: 1024,
		// BenchmarkTuning/op=bulk (1 MiB gRPC messages over mux+TLS,
		// medians of 4 interleaved rounds, testdata/bench-tuning-2core.txt):
		// 256 KiB 391 MB/s and 2.79 ms CPU per MiB, 1 MiB 499 MB/s and
		// 2.51 ms, 4 MiB 610 MB/s and 2.22 ms. 256 KiB stalls the sender on
		// window updates. 4 MiB was faster there but within noise against
		// 1 MiB in paired BenchmarkBulk rounds (testdata/bench-bulk-2core.txt)
		// and quadruples the unread-data bound (MaxInboundStreams ×
		// StreamWindow), which matters for raw sidecar streams whose app
		// reads slowly; raise it for bulk-heavy peers. Buffers grow only as
		// data actually waits, so an idle stream does not pay for it.
		StreamWindow: 1 << 20,
		// A dead path is detected within KeepAliveInterval +
		// KeepAliveTimeout (TestDeadConnFailsStreams: 0.70–0.88 s with
		// 200 ms + 500 ms), so these detect one within 25 s, like TCP
		// keepalive tuned for services; a ping is 12 bytes each way.
		KeepAliveInterval: 15 * time.Second,
		KeepAliveTimeout:  10 * time.Second,
		// yamux's ConnectionWriteTimeout default; now it bounds each
		// write to the connection too, not only the wait to queue one.
		WriteTimeout: 10 * time.Second,
		// wire.proto: "The acceptor reads the header under a deadline
		// (default 5 s)".
		HeaderTimeout: 5 * time.Second,
		// yamux's default is 5 minutes. A stream closed here is kept
		// until the peer closes too; 30 s frees streams of a peer that
		// never does six times sooner while leaving a slow peer time.
		StreamCloseTimeout: 30 * time.Second,
		// #12.6: an unbounded flood reached 540 k goroutines and 1.98 GB
		// RSS in 8 s. Our keepalive sends one ping per KeepAliveInterval
		// and a peer answering pings sends none, so 100/s leaves a wide
		// margin for any honest peer while a flood is cut off after ~100
		// pings (TestPingFloodClosesSession).
		MaxPingsPerSecond: 100,
		// #12.7: 920 k refusals in 30 s from 4 sessions, never closed. A
		// podwire Pool spills to a new session before the peer's stream
		// limit, so an honest client is refused only for a bad name or
		// identity, and retries with backoff; 200/s is far above that.
		MaxRefusalsPerSecond: 200,
	}
}

// WithDefaults returns c with every zero field set to its default. It is
// the one place defaults are applied: Session and Pool call it, and code
// that reads a field (say HeaderTimeout for ReadStreamHeader) should read
// it from c.WithDefaults().
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.AcceptBacklog, d.AcceptBacklog)
	orDefault(&c.MaxInboundStreams, d.MaxInboundStreams)
	orDefault(&c.StreamWindow, d.StreamWindow)
	orDefault(&c.KeepAliveInterval, d.KeepAliveInterval)
	orDefault(&c.KeepAliveTimeout, d.KeepAliveTimeout)
	orDefault(&c.WriteTimeout, d.WriteTimeout)
	orDefault(&c.HeaderTimeout, d.HeaderTimeout)
	orDefault(&c.StreamCloseTimeout, d.StreamCloseTimeout)
	orDefault(&c.MaxPingsPerSecond, d.MaxPingsPerSecond)
	orDefault(&c.MaxRefusalsPerSecond, d.MaxRefusalsPerSecond)
	return c
}

// orDefault sets *v to def if *v is zero.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports the first field that is set and out of range, or nil;
// zero fields stand for their defaults and are valid. The error matches
// ErrInvalidConfig and names the field.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: Config.%s = %v, want %s (or 0 for the default)", ErrInvalidConfig, field, v, want)
	}
	switch {
	case c.AcceptBacklog < 0:
		return bad("AcceptBacklog", c.AcceptBacklog, "> 0")
	case c.MaxInboundStreams < 0:
		return bad("MaxInboundStreams", c.MaxInboundStreams, "> 0")
	case c.StreamWindow != 0 && c.StreamWindow < minStreamWindow:
		return bad("StreamWindow", c.StreamWindow, ">= 262144 (yamux's initial window)")
	case c.KeepAliveInterval < 0:
		return bad("KeepAliveInterval", c.KeepAliveInterval, "> 0")
	case c.KeepAliveTimeout < 0:
		return bad("KeepAliveTimeout", c.KeepAliveTimeout, "> 0")
	case c.WriteTimeout < 0:
		return bad("WriteTimeout", c.WriteTimeout, "> 0")
	case c.HeaderTimeout < 0:
		return bad("HeaderTimeout", c.HeaderTimeout, "> 0")
	case c.StreamCloseTimeout < 0:
		return bad("StreamCloseTimeout", c.StreamCloseTimeout, "> 0")
	case c.MaxPingsPerSecond < 0:
		return bad("MaxPingsPerSecond", c.MaxPingsPerSecond, "> 0")
	case c.MaxRefusalsPerSecond < 0:
		return bad("MaxRefusalsPerSecond", c.MaxRefusalsPerSecond, "> 0")
	}
	return nil
}

// yamuxConfig maps c onto yamux. Keepalive is ours (yamux ties the pong wait
// to ConnectionWriteTimeout), and StreamOpenTimeout is 0 because in yamux
// v0.1.2 an open that is not acknowledged in time closes the whole session
// (session.go setOpenTimeout); Open(ctx) bounds opens instead.
func (c Config) yamuxConfig(log *slog.Logger) *yamux.Config {
	return &yamux.Config{
		// Our accept loop drains yamux's queue immediately and applies our
		// own backlog and inbound limits, so yamux's queue (which also
		// sizes our un-acknowledged SYN window) can be generous.
		AcceptBacklog:          c.AcceptBacklog,
		EnableKeepAlive:        false,
		KeepAliveInterval:      c.KeepAliveInterval,
		ConnectionWriteTimeout: c.WriteTimeout,
		MaxStreamWindowSize:    c.StreamWindow,
		StreamOpenTimeout:      0,
		StreamCloseTimeout:     c.StreamCloseTimeout,
		Logger:                 yamuxLogger{log},
	}
}

// yamuxLogger forwards yamux's printf logging to slog: "[ERR]" lines at
// Warn, everything else (frames for forgotten streams, backlog resets) at
// Debug, since our own layer logs the events that matter.
type yamuxLogger struct{ log *slog.Logger }

func (l yamuxLogger) Print(v ...any) { l.emit(fmt.Sprint(v...)) }

func (l yamuxLogger) Printf(format string, v ...any) { l.emit(fmt.Sprintf(format, v...)) }

func (l yamuxLogger) Println(v ...any) { l.emit(fmt.Sprint(v...)) }

func (l yamuxLogger) emit(msg string) {
	level := slog.LevelDebug
	if strings.HasPrefix(msg, "[ERR]") {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, msg, "component", "yamux")
}
