package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/podwire/podwire/internal/rawio"
	"net"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/transport"
)

// acceptInbound accepts connections from the inbound transport.TLSListener
// (handshaken concurrently, under HandshakeTimeout and
// MaxPendingHandshakes) until it is closed; each becomes a mux session on
// its own goroutine.
func (s *Sidecar) acceptInbound(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("inbound accept failed; the inbound listener stops", "err", err)
			}
			return
		}
		if !s.trackConn(c) {
			return
		}
		s.goTracked(func() { s.serveConn(c.(*tls.Conn)) })
	}
}

// countHandshakeError is the inbound listener's OnHandshakeError: it counts
// the refusal (the listener logs it).
func (s *Sidecar) countHandshakeError(remote net.Addr, err error) {
	s.m.handshakes.Observe(remote, err)
	reason := "handshake"
	if errors.Is(err, transport.ErrTooManyHandshakes) {
		reason = "handshake_limit"
	}
	s.m.refusals.WithLabelValues("inbound", reason).Inc()
}

// newMuxServer builds the inbound stream server: one MuxService per
// configured service with its allow list, refusing while draining, each
// admitted stream proxied to the local app by proxyInbound.
func (s *Sidecar) newMuxServer() (*transport.MuxServer, error) {
	services := make(map[string]transport.MuxService, len(s.cfg.Services))
	for _, svc := range s.cfg.Services {
		services[svc.Name] = transport.MuxService{Allow: s.policies[svc.Name], Handler: s.proxyInbound}
	}
	return transport.NewMuxServer(transport.MuxServerConfig{
		Services:      services,
		HeaderTimeout: s.cfg.HeaderTimeout,
		Draining:      s.draining.Load,
		OnRefuse:      func(reason string) { s.m.refusals.WithLabelValues("inbound", reason).Inc() },
		Logger:        s.log,
	})
}

// serveConn serves the mux session of a handshaken connection until it
// ends; its streams go through the MuxServer with the session's identity.
func (s *Sidecar) serveConn(tc *tls.Conn) {
	defer s.untrackConn(tc)
	ac, err := transport.NewAuthConn(transport.KindMuxTLS, tc)
	if err != nil {
		s.log.Error("inbound connection without identity", "remote", tc.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	ai := ac.AuthInfo()
	sess, err := mux.Server(ac, s.muxCfg)
	if err != nil {
		s.log.Error("start mux session", "remote", tc.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	in := &inSession{
		sess: sess, peer: identityOf(ai.Peer), tls: ai.Peer, start: time.Now(),
		local: tc.LocalAddr().String(), remote: tc.RemoteAddr().String(),
	}
	if !s.setLocked(func() { s.sessions[sess] = in }) {
		sess.Close()
		return
	}
	if s.draining.Load() {
		// Raced with Shutdown: send GoAway now; Close ends the wait.
		s.goTracked(func() { sess.Shutdown(s.ctx) })
	}
	s.m.sessions.WithLabelValues("inbound").Inc()
	s.m.sessionsTotal.WithLabelValues("inbound").Inc()
	s.log.Info("inbound session", "peer", in.peer.String(), "remote", in.remote)
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		s.m.sessions.WithLabelValues("inbound").Dec()
		sess.Close()
		s.log.Info("inbound session ended", "peer", in.peer.String(), "remote", in.remote, "age", time.Since(in.start).Round(time.Millisecond).String())
	}()
	for {
		c, err := sess.Accept()
		if err != nil {
			return
		}
		if !s.beginStream() {
			c.Close()
			return
		}
		s.goTracked(func() {
			defer s.endStream()
			s.muxSrv.ServeStream(s.ctx, c, ai)
		})
	}
}

// proxyInbound connects an admitted stream to the local app's socket
// (refusing with UNAVAILABLE when the app does not accept), accepts it and
// copies bytes both ways.
func (s *Sidecar) proxyInbound(ctx context.Context, st *transport.MuxStream) {
	svc := st.Header.GetService()
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	path := s.socketPath(svc)
	app, err := d.DialContext(dctx, "unix", path)
	if err != nil {
		st.Refuse(&transport.Refusal{Code: code.Code_UNAVAILABLE, Reason: "app_unavailable",
			Message: fmt.Sprintf("the local %q app does not accept on its socket (%v); check that it is running and uses the sidecar's socket dir", svc, err)})
		return
	}
	app = rawio.Wrap(app)
	if !s.trackConn(app) {
		st.Refuse(&transport.Refusal{Code: code.Code_UNAVAILABLE, Reason: "draining",
			Message: "this sidecar is shutting down; retry on another replica"})
		return
	}
	defer s.untrackConn(app)
	c, err := st.Accept()
	if err != nil {
		app.Close()
		return
	}
	s.m.streamsTotal.WithLabelValues("inbound", svc).Inc()
	g := s.m.streams.WithLabelValues("inbound", svc)
	g.Inc()
	defer g.Dec()
	tx := s.m.bytes.WithLabelValues("inbound", svc, "tx")
	rx := s.m.bytes.WithLabelValues("inbound", svc, "rx")
	wc, wa, release := s.h2Pair(c, app, nil) // caller's client (via the mux) ← GOAWAY on drain
	defer release()
	pipe(wa, wc, func(toPeer bool, n int) {
		if toPeer {
			tx.Add(float64(n))
		} else {
			rx.Add(float64(n))
		}
	})
}
