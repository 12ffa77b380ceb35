package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"github.com/podwire/podwire/transport"
)

// warmInterval is how often keepWarm checks that each upstream has a live
// session (and redials if not), which is what /readyz reports.
const warmInterval = time.Second

// acceptOutbound accepts app connections on an upstream's socket until it
// is closed; each becomes one stream to the upstream.
func (s *Sidecar) acceptOutbound(u Upstream, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("upstream socket accept failed; the socket stops", "upstream", u.Name, "err", err)
			}
			return
		}
		if !s.trackConn(c) {
			return
		}
		if !s.beginStream() {
			s.untrackConn(c)
			c.Close()
			return
		}
		s.goTracked(func() {
			defer s.endStream()
			defer s.untrackConn(c)
			s.proxyOutbound(u, c)
		})
	}
}

// firstByteWait is how long an app connection may stay silent before the
// sidecar opens its stream anyway. Client-first protocols (gRPC sends the
// HTTP/2 preface at once) pay nothing; a connection closed before sending
// anything (a liveness probe of the socket, as `podwire status` and the
// SDK's co-location check do) opens no stream at all; a server-first
// protocol waits this long once per connection.
const firstByteWait = 100 * time.Millisecond

// readFirst reads the app's first bytes into buf, waiting up to
// firstByteWait. probe is true when the app closed without sending.
func readFirst(app net.Conn, buf []byte) (n int, probe bool, err error) {
	app.SetReadDeadline(time.Now().Add(firstByteWait))
	n, err = app.Read(buf)
	app.SetReadDeadline(time.Time{})
	switch {
	case n > 0:
		return n, false, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, false, nil
	case errors.Is(err, io.EOF):
		return 0, true, nil
	}
	return 0, false, err
}

// proxyOutbound opens a stream to the upstream for one app connection and
// copies both ways. If the stream cannot be opened the app connection is
// closed (the app's gRPC client sees UNAVAILABLE and retries).
func (s *Sidecar) proxyOutbound(u Upstream, app net.Conn) {
	bp := bufPool.Get().(*[]byte)
	n, probe, err := readFirst(app, *bp)
	first := append([]byte(nil), (*bp)[:n]...)
	bufPool.Put(bp)
	if probe || err != nil {
		s.log.Debug("app connection closed before sending; no stream opened", "upstream", u.Name, "err", err)
		app.Close()
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout)
	st, err := s.pool.DialService(ctx, u.Address, &wirev1.StreamHeader{
		Version: mux.HeaderVersion,
		Service: u.Name,
		Payload: payloadOf(u),
	})
	cancel()
	if err != nil {
		reason := "dial"
		var re *mux.RefusedError
		if errors.As(err, &re) {
			reason = "refused"
		}
		s.m.refusals.WithLabelValues("outbound", reason).Inc()
		s.log.Warn("open stream to upstream failed; closing the app connection", "upstream", u.Name, "address", u.Address, "err", err)
		app.Close()
		return
	}
	if len(first) > 0 {
		if _, err := st.Write(first); err != nil {
			s.m.refusals.WithLabelValues("outbound", "write").Inc()
			st.Close()
			app.Close()
			return
		}
	}
	f := s.upFlows[u.Name]
	f.tx.Add(int64(len(first)))
	s.m.streamsTotal.WithLabelValues("outbound", u.Name).Inc()
	g := s.m.streams.WithLabelValues("outbound", u.Name)
	g.Inc()
	defer g.Dec()
	tx := s.m.bytes.WithLabelValues("outbound", u.Name, "tx")
	rx := s.m.bytes.WithLabelValues("outbound", u.Name, "rx")
	tx.Add(float64(len(first)))
	wa, ws, release := s.h2Pair(app, st, first) // app's client ← GOAWAY on drain
	defer release()
	pipe(wa, ws, func(toPeer bool, n int) {
		if toPeer {
			f.tx.Add(int64(n))
			tx.Add(float64(n))
		} else {
			f.rx.Add(int64(n))
			rx.Add(float64(n))
		}
	})
}

// payloadOf maps Upstream.Payload to the header's payload.
func payloadOf(u Upstream) wirev1.Payload {
	if u.Payload == "grpc" {
		return wirev1.Payload_PAYLOAD_GRPC
	}
	return wirev1.Payload_PAYLOAD_RAW
}

// dialPeer is the Pool's dialer: transport.DialMuxTLS (TCP, then TLS with
// ALPN podwire-mux/1 and the sidecar's client certificate) under
// HandshakeTimeout. It records the identity the peer presented.
func (s *Sidecar) dialPeer(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	tc, err := transport.DialMuxTLS(ctx, addr, s.certs.ClientConfig(s.serverNameFor(addr), []string{ALPN}), s.tcfg)
	if err != nil {
		err = fmt.Errorf("upstream %s: %w", addr, err)
		s.recordDial(addr, identity{}, err)
		return nil, err
	}
	st := tc.ConnectionState()
	s.recordDial(addr, identityOf(transport.PeerOfTLS(transport.KindMuxTLS, &st, tc.RemoteAddr())), nil)
	return tc, nil
}

// recordDial keeps the last dial result to addr for /debug/sessions.
func (s *Sidecar) recordDial(addr string, id identity, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dialErrs[addr] = err
	if err == nil {
		s.peerIDs[addr] = id
	}
}

// serverNameFor returns the TLS server name for an upstream address: the
// first upstream's server_name with that address, else its host.
func (s *Sidecar) serverNameFor(addr string) string {
	for _, u := range s.cfg.Upstreams {
		if u.Address == addr && u.ServerName != "" {
			return u.ServerName
		}
	}
	host, _, _ := net.SplitHostPort(addr)
	return host
}

// upstreamAddrs returns the distinct upstream addresses, in config order.
func (s *Sidecar) upstreamAddrs() []string {
	var addrs []string
	seen := map[string]bool{}
	for _, u := range s.cfg.Upstreams {
		if !seen[u.Address] {
			seen[u.Address] = true
			addrs = append(addrs, u.Address)
		}
	}
	return addrs
}

// keepWarm keeps a live session to addr so the first app call does not pay
// for the handshake and /readyz can tell whether the upstream is reachable.
// When no live session exists it opens (and at once closes) a stream, which
// makes the Pool dial; the peer sees a stream without a header and ignores it.
func (s *Sidecar) keepWarm(addr string) {
	t := time.NewTicker(warmInterval)
	defer t.Stop()
	for {
		if !s.draining.Load() && !s.sessionAlive(addr) {
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout)
			c, err := s.pool.Open(ctx, addr)
			cancel()
			if err == nil {
				c.Close()
			} else {
				s.log.Debug("upstream not reachable yet", "address", addr, "err", err)
			}
		}
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

// sessionAlive reports whether the Pool holds a live session to addr.
func (s *Sidecar) sessionAlive(addr string) bool {
	for _, si := range s.pool.Sessions() {
		if si.Addr == addr && !si.Draining {
			return true
		}
	}
	return false
}
