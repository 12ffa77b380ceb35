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

// Config tunes a Session. Start from DefaultConfig and change what you
// need; Validate reports the first field out of range. A Config is a value:
// copying it is safe.
type Config struct {
	// AcceptBacklog is how many inbound streams may wait for Accept; an
	// inbound stream arriving when the backlog is full is refused with
	// RESOURCE_EXHAUSTED. It also caps this side's un-acknowledged opens
	// (yamux's SYN window).
	AcceptBacklog int

	// MaxInboundStreams caps concurrent inbound streams (accepted or
	// waiting in the backlog, not yet closed by this side). Excess streams
	// are refused with a StreamReply of RESOURCE_EXHAUSTED, which the
	// opener's DialService returns as a *RefusedError.
	MaxInboundStreams int

	// StreamWindow is the maximum receive window per stream, which is the
	// most bytes a stream buffers for a reader that does not read. At least
	// 256 KiB (yamux's initial window).
	StreamWindow uint32

	// KeepAliveInterval is the ping period; each pong also updates RTT.
	KeepAliveInterval time.Duration

	// KeepAliveTimeout is how long after a ping the session waits for a
	// pong, or any other inbound bytes, before declaring the session dead.
	// It is independent of WriteTimeout.
	KeepAliveTimeout time.Duration

	// WriteTimeout bounds one write to the underlying connection and the
	// wait to queue a frame; a write that takes longer kills the session.
	WriteTimeout time.Duration

	// HeaderTimeout is the deadline for reading a podwire.wire.v1 header
	// (acceptor) or reply (opener, when the context has no earlier deadline).
	HeaderTimeout time.Duration

	// StreamCloseTimeout bounds how long a stream closed by this side waits
	// for the peer's close before it is reset and forgotten.
	StreamCloseTimeout time.Duration

	// Logger receives session events. Nil discards them.
	Logger *slog.Logger

	// Metrics receives counters and gauges. Nil records nothing.
	Metrics Metrics
}

// DefaultConfig returns the tuning podwire ships with. Each value is
// explained next to it; the figures come from the tests and benchmarks in
// this package, run on a 2-core Linux VM (see bench_test.go).
func DefaultConfig() Config {
	return Config{
		// yamux's default. Our accept loop drains yamux's queue at once,
		// so the backlog only has to absorb bursts between Accept calls.
		AcceptBacklog: 256,
		// 10,000 idle streams cost ~X (TestManyStreams); 4096 keeps a
		// session well below 64 MiB of idle streams.
		MaxInboundStreams:  4096,
		StreamWindow:       minStreamWindow,
		KeepAliveInterval:  15 * time.Second,
		KeepAliveTimeout:   10 * time.Second,
		WriteTimeout:       10 * time.Second,
		HeaderTimeout:      5 * time.Second,
		StreamCloseTimeout: 30 * time.Second,
	}
}

// Validate reports the first field out of range, or nil. The error matches
// ErrInvalidConfig and names the field.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v, want %s (start from mux.DefaultConfig())", ErrInvalidConfig, field, v, want)
	}
	switch {
	case c.AcceptBacklog <= 0:
		return bad("AcceptBacklog", c.AcceptBacklog, "> 0")
	case c.MaxInboundStreams <= 0:
		return bad("MaxInboundStreams", c.MaxInboundStreams, "> 0")
	case c.StreamWindow < minStreamWindow:
		return bad("StreamWindow", c.StreamWindow, ">= 262144 (yamux's initial window)")
	case c.KeepAliveInterval <= 0:
		return bad("KeepAliveInterval", c.KeepAliveInterval, "> 0")
	case c.KeepAliveTimeout <= 0:
		return bad("KeepAliveTimeout", c.KeepAliveTimeout, "> 0")
	case c.WriteTimeout <= 0:
		return bad("WriteTimeout", c.WriteTimeout, "> 0")
	case c.HeaderTimeout <= 0:
		return bad("HeaderTimeout", c.HeaderTimeout, "> 0")
	case c.StreamCloseTimeout <= 0:
		return bad("StreamCloseTimeout", c.StreamCloseTimeout, "> 0")
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
