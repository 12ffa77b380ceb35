package h2drain

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotHTTP2 means the connection did not start with the HTTP/2 client
// preface, so it cannot be drained with GOAWAY.
var ErrNotHTTP2 = errors.New("podwire/h2drain: connection is not HTTP/2 (no client preface); it can only be waited for or cut")

// DefaultAckWait is how long Drain waits for the client's PING ack before
// it sends the final GOAWAY anyway; Go's HTTP/2 server waits 1s too.
const DefaultAckWait = time.Second

// ToClient is the writer toward an HTTP/2 client. It passes every byte
// through unchanged and in order, tracks frame boundaries, and inserts
// the frames given to Inject at the next boundary. Safe for one writer
// plus concurrent Inject calls.
type ToClient struct {
	mu      sync.Mutex // guards the fields below and serialises writes to w
	w       io.Writer
	t       Tracker
	pending [][]byte     // frames to insert at the next boundary
	onWrite func([]byte) // called with each inserted frame once written
}

// NewToClient returns a ToClient writing to w. onWrite, when not nil, is
// called with each inserted frame after it was written (under the lock;
// it must not block).
func NewToClient(w io.Writer, onWrite func(frame []byte)) *ToClient {
	return &ToClient{w: w, onWrite: onWrite}
}

// Write writes p to the underlying writer, inserting pending frames at
// the first frame boundary inside p or at its end.
func (c *ToClient) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	written := 0
	for len(c.pending) > 0 && written < len(p) {
		n, at := c.t.FeedToBoundary(p[written:])
		m, err := c.w.Write(p[written : written+n])
		written += m
		if err != nil {
			return written, err
		}
		if at {
			if err := c.flushLocked(); err != nil {
				return written, err
			}
		}
	}
	if written == len(p) {
		return written, nil
	}
	c.t.Feed(p[written:])
	m, err := c.w.Write(p[written:])
	return written + m, err
}

// Inject writes frames now if the stream is at a frame boundary, else
// queues them for the next one. Each element must be one whole frame.
func (c *ToClient) Inject(frames ...[]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, frames...)
	if !c.t.AtBoundary() {
		return nil
	}
	return c.flushLocked()
}

// Pending returns how many inserted frames wait for a boundary.
func (c *ToClient) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// flushLocked writes the pending frames; c.mu must be held.
func (c *ToClient) flushLocked() error {
	for len(c.pending) > 0 {
		f := c.pending[0]
		if _, err := c.w.Write(f); err != nil {
			return err
		}
		c.pending = c.pending[1:]
		if c.onWrite != nil {
			c.onWrite(f)
		}
	}
	c.pending = nil
	return nil
}

// Protocol states of FromClient.
const (
	stateUnknown int32 = iota
	stateHTTP2
	stateOther
)

// FromClient is the writer toward the HTTP/2 server: it passes every byte
// through and watches the client's preface, the streams it opens and its
// PING acks. Safe for one writer plus concurrent readers of its state.
type FromClient struct {
	w       io.Writer
	pre     int // bytes of ClientPreface matched so far
	t       Tracker
	state   atomic.Int32
	highest atomic.Uint32 // highest client-initiated stream id seen
	decided chan struct{} // closed once state is not stateUnknown
	acked   chan struct{} // closed when the ack of pingData arrives
	ackOnce sync.Once

	pingData [8]byte
}

// NewFromClient returns a FromClient writing to w that recognises acks of
// PINGs carrying pingData.
func NewFromClient(w io.Writer, pingData [8]byte) *FromClient {
	c := &FromClient{w: w, pingData: pingData, decided: make(chan struct{}), acked: make(chan struct{})}
	c.t.OnFrame = c.onFrame
	return c
}

// Write passes p to the server and observes it.
func (c *FromClient) Write(p []byte) (int, error) {
	c.Observe(p)
	return c.w.Write(p)
}

// Observe advances over bytes the client sent without writing them
// anywhere (for bytes already forwarded another way).
func (c *FromClient) Observe(p []byte) {
	switch c.state.Load() {
	case stateOther:
		return
	case stateUnknown:
		n := min(len(p), len(ClientPreface)-c.pre)
		if string(p[:n]) != ClientPreface[c.pre:c.pre+n] {
			c.decide(stateOther)
			return
		}
		c.pre += n
		if p = p[n:]; c.pre < len(ClientPreface) {
			return
		}
		c.decide(stateHTTP2)
	}
	c.t.Feed(p)
}

// HTTP2 reports whether the client sent the HTTP/2 preface.
func (c *FromClient) HTTP2() bool { return c.state.Load() == stateHTTP2 }

// HighestStream returns the highest stream id the client opened.
func (c *FromClient) HighestStream() uint32 { return c.highest.Load() }

func (c *FromClient) decide(s int32) {
	c.state.Store(s)
	close(c.decided)
}

func (c *FromClient) onFrame(h FrameHeader, head []byte) {
	switch {
	case h.Type == typeHeaders && h.StreamID%2 == 1:
		if h.StreamID > c.highest.Load() {
			c.highest.Store(h.StreamID)
		}
	case h.Type == typePing && h.Flags&flagAck != 0 && h.Length == 8 && string(head) == string(c.pingData[:]):
		c.ackOnce.Do(func() { close(c.acked) })
	}
}

// Conn is one proxied HTTP/2 connection seen from the proxy: ToClient
// wraps the writer toward the client, FromClient the writer toward the
// server. Drain it once with Drain.
type Conn struct {
	ToClient   *ToClient
	FromClient *FromClient
	draining   atomic.Bool
}

// NewConn wraps the two writers of a proxied connection. onGoAway, when
// not nil, is called after each GOAWAY frame written toward the client.
func NewConn(toClient, toServer io.Writer, pingData [8]byte, onGoAway func()) *Conn {
	return &Conn{
		ToClient: NewToClient(toClient, func(f []byte) {
			if onGoAway != nil && f[3] == typeGoAway {
				onGoAway()
			}
		}),
		FromClient: NewFromClient(toServer, pingData),
	}
}

// Drain tells the client to go away in two steps: GOAWAY(2³¹−1) and a
// PING, then, after the PING ack or ackWait (DefaultAckWait when 0),
// GOAWAY with the highest stream the client opened. It returns once the
// final GOAWAY was written or queued; the client then ends its streams
// and closes the connection. It waits up to ackWait for the client's
// preface, and returns ErrNotHTTP2 if the connection is something else.
// Only the first call drains; later ones return nil at once.
func (c *Conn) Drain(ctx context.Context, ackWait time.Duration) error {
	if !c.draining.CompareAndSwap(false, true) {
		return nil
	}
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	timer := time.NewTimer(ackWait)
	defer timer.Stop()
	select {
	case <-c.FromClient.decided:
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !c.FromClient.HTTP2() {
		return ErrNotHTTP2
	}
	if err := c.ToClient.Inject(GoAwayFrame(MaxStreamID), PingFrame(c.FromClient.pingData)); err != nil {
		return err
	}
	timer.Reset(ackWait)
	select {
	case <-c.FromClient.acked:
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.ToClient.Inject(GoAwayFrame(c.FromClient.HighestStream()))
}
