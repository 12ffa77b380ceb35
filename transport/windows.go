package transport

import (
	"fmt"

	"google.golang.org/grpc"
)

// HTTP/2 flow-control windows of podwire channels and servers.
//
// grpc-go by default starts at 64 KiB and grows the windows by estimating
// the bandwidth-delay product with a PING on (nearly) every DATA it
// receives, which the peer must answer: on a local socket that is an extra
// frame each way, and an extra wake-up of both processes, per call. podwire
// fixes the windows instead (no BDP pings), large enough that a local or
// in-cluster link never waits for a WINDOW_UPDATE in the middle of a
// message of a few MiB.
const (
	// DefaultStreamWindow is the static per-stream window: 4 MiB.
	DefaultStreamWindow int32 = 4 << 20
	// DefaultConnWindow is the static per-connection window: 8 MiB.
	DefaultConnWindow int32 = 8 << 20
	// minStaticWindow is grpc-go's floor for a static window (64 KiB).
	minStaticWindow int32 = 64 << 10
)

// flowWindows chooses the HTTP/2 windows; the zero value is the default:
// static DefaultStreamWindow and DefaultConnWindow.
type flowWindows struct {
	bdp          bool  // grpc's dynamic windows (BDP pings), as bare grpc-go
	stream, conn int32 // 0 means the default
}

func (w flowWindows) sizes() (int32, int32) {
	s, c := w.stream, w.conn
	if s == 0 {
		s = DefaultStreamWindow
	}
	if c == 0 {
		c = DefaultConnWindow
	}
	return s, c
}

// dialOptions are the grpc dial options that apply w.
func (w flowWindows) dialOptions() []grpc.DialOption {
	if w.bdp {
		return nil
	}
	s, c := w.sizes()
	return []grpc.DialOption{grpc.WithStaticStreamWindowSize(s), grpc.WithStaticConnWindowSize(c)}
}

// serverOptions are the grpc server options that apply w.
func (w flowWindows) serverOptions() []grpc.ServerOption {
	if w.bdp {
		return nil
	}
	s, c := w.sizes()
	return []grpc.ServerOption{grpc.StaticStreamWindowSize(s), grpc.StaticConnWindowSize(c)}
}

// checkWindows validates sizes given to WithStaticWindows.
func checkWindows(stream, conn int32) error {
	if stream < minStaticWindow || conn < minStaticWindow {
		return fmt.Errorf("podwire/transport: static windows %d/%d bytes: both must be at least %d (64 KiB); use WithBDPWindows for grpc's dynamic windows", stream, conn, minStaticWindow)
	}
	return nil
}

// WithStaticWindows sets the channel's static HTTP/2 windows: per stream
// and per connection, each at least 64 KiB. Default DefaultStreamWindow
// and DefaultConnWindow (no BDP pings).
func WithStaticWindows(stream, conn int32) DialOption {
	return dialOptionFunc(func(c *dialConfig) error {
		if err := checkWindows(stream, conn); err != nil {
			return err
		}
		c.windows = flowWindows{stream: stream, conn: conn}
		return nil
	})
}

// WithBDPWindows gives the channel grpc-go's dynamic windows (64 KiB,
// grown by BDP pings), as a bare grpc.NewClient has.
func WithBDPWindows() DialOption {
	return dialOptionFunc(func(c *dialConfig) error { c.windows = flowWindows{bdp: true}; return nil })
}

// WithServerStaticWindows sets the server's static HTTP/2 windows, each
// at least 64 KiB. Default DefaultStreamWindow and DefaultConnWindow.
func WithServerStaticWindows(stream, conn int32) ServerOption {
	return serverOptionFunc(func(c *serverConfig) error {
		if err := checkWindows(stream, conn); err != nil {
			return err
		}
		c.windows = flowWindows{stream: stream, conn: conn}
		return nil
	})
}

// WithServerBDPWindows gives the server grpc-go's dynamic windows (BDP
// pings), as a bare grpc.NewServer has.
func WithServerBDPWindows() ServerOption {
	return serverOptionFunc(func(c *serverConfig) error { c.windows = flowWindows{bdp: true}; return nil })
}
