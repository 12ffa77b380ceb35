package sidecar

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"

	"github.com/podwire/podwire/sidecar/internal/h2drain"
)

// h2Side is one end of a proxied pair whose writes go through an
// h2drain writer; reads, deadlines and half-close go to the conn.
type h2Side struct {
	net.Conn
	w io.Writer
}

func (c *h2Side) Write(p []byte) (int, error) { return c.w.Write(p) }

// CloseWrite half-closes the underlying conn when it can.
func (c *h2Side) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// h2Pair wraps a proxied pair so that Shutdown can drain it with HTTP/2
// GOAWAY: client is the side the app's HTTP/2 client is on (the app conn
// outbound, the mux stream inbound), server the other; first are bytes
// the client already sent to server. Pass the returned conns to pipe in
// place of the originals and call release when the pair ends. A pair that
// turns out not to be HTTP/2 is proxied unchanged and drained by waiting.
func (s *Sidecar) h2Pair(client, server net.Conn, first []byte) (wc, ws net.Conn, release func()) {
	var ping [8]byte
	rand.Read(ping[:])
	hc := h2drain.NewConn(client, server, ping, s.rm.goaways.Inc)
	hc.FromClient.Observe(first)
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.h2conns[hc] = ctx
	draining := s.draining.Load()
	s.mu.Unlock()
	if draining { // accepted while Shutdown was starting
		s.goTracked(func() { s.drainH2(ctx, hc) })
	}
	release = func() {
		s.mu.Lock()
		delete(s.h2conns, hc)
		s.mu.Unlock()
		cancel()
	}
	return &h2Side{Conn: client, w: hc.ToClient}, &h2Side{Conn: server, w: hc.FromClient}, release
}

// drainAllH2 starts the GOAWAY drain of every proxied HTTP/2 connection.
func (s *Sidecar) drainAllH2() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for hc, ctx := range s.h2conns {
		s.goTracked(func() { s.drainH2(ctx, hc) })
	}
}

// drainH2 runs the two-step GOAWAY of one connection; ctx ends with the
// pair.
func (s *Sidecar) drainH2(ctx context.Context, hc *h2drain.Conn) {
	err := hc.Drain(ctx, h2drain.DefaultAckWait)
	switch {
	case err == nil, errors.Is(err, context.Canceled):
	case errors.Is(err, h2drain.ErrNotHTTP2):
		s.log.Debug("drain: connection is not HTTP/2; waiting for it to end", "err", err)
	default:
		s.log.Debug("drain: GOAWAY not delivered", "err", err)
	}
}
