package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"github.com/podwire/podwire/transport"
)

// gRPC status codes used in stream replies.
const (
	codeInvalidArgument    = 3
	codeNotFound           = 5
	codePermissionDenied   = 7
	codeFailedPrecondition = 9
	codeUnavailable        = 14
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
func (s *Sidecar) countHandshakeError(_ net.Addr, err error) {
	reason := "handshake"
	if errors.Is(err, transport.ErrTooManyHandshakes) {
		reason = "handshake_limit"
	}
	s.m.refusals.WithLabelValues("inbound", reason).Inc()
}

// serveConn serves the mux session of a handshaken connection until it
// ends.
func (s *Sidecar) serveConn(tc *tls.Conn) {
	defer s.untrackConn(tc)
	st := tc.ConnectionState()
	peer := transport.PeerOfTLS(transport.KindMuxTLS, &st, tc.RemoteAddr())
	sess, err := mux.Server(tc, s.muxCfg)
	if err != nil {
		s.log.Error("start mux session", "remote", tc.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	in := &inSession{
		sess: sess, peer: identityOf(peer), tls: peer, start: time.Now(),
		local: tc.LocalAddr().String(), remote: tc.RemoteAddr().String(),
	}
	if !s.setLocked(func() { s.sessions[sess] = in }) {
		sess.Close()
		return
	}
	if s.draining.Load() {
		go sess.Shutdown(context.Background()) // raced with Shutdown: send GoAway now
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
			s.serveStream(in, c)
		})
	}
}

// serveStream reads the header of one inbound stream, checks it, connects
// to the local app and proxies. Every failure is answered to the peer with
// a code and a message saying what to do.
func (s *Sidecar) serveStream(in *inSession, c net.Conn) {
	h, err := mux.ReadStreamHeader(c, s.cfg.HeaderTimeout)
	if err != nil {
		s.refuseHeader(in, c, err)
		return
	}
	app, rerr := s.admit(in, h)
	if rerr != nil {
		s.m.refusals.WithLabelValues("inbound", rerr.Reason).Inc()
		s.log.Warn("refused inbound stream", "peer", in.peer.String(), "service", h.GetService(), "reason", rerr.Reason, "msg", rerr.Message)
		mux.Refuse(c, rerr.Code, rerr.Message)
		return
	}
	if !s.trackConn(app) {
		c.Close()
		return
	}
	defer s.untrackConn(app)
	if err := mux.Accept(c); err != nil {
		s.m.refusals.WithLabelValues("inbound", "reply").Inc()
		app.Close()
		c.Close()
		return
	}
	svc := h.GetService()
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

// refuseHeader answers a stream whose header could not be read.
func (s *Sidecar) refuseHeader(in *inSession, c net.Conn, err error) {
	var he *mux.HeaderError
	switch {
	case errors.As(err, &he):
		reason := "bad_header"
		if he.Field == "version" {
			reason = "version"
		}
		s.m.refusals.WithLabelValues("inbound", reason).Inc()
		s.log.Warn("refused inbound stream: bad header", "peer", in.peer.String(), "err", err)
		mux.Refuse(c, he.Code, he.Error())
	case errors.Is(err, mux.ErrHeaderTooLarge):
		s.m.refusals.WithLabelValues("inbound", "bad_header").Inc()
		s.log.Warn("refused inbound stream: header too large", "peer", in.peer.String(), "err", err)
		mux.Refuse(c, codeInvalidArgument, err.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		// A stream closed before any header: a liveness probe (keepWarm)
		// or a client that gave up. Nothing to answer.
		s.log.Debug("inbound stream closed before its header", "peer", in.peer.String())
		c.Close()
	default:
		reason := "header_read"
		if errors.Is(err, mux.ErrHeaderTimeout) {
			reason = "header_timeout"
		}
		s.m.refusals.WithLabelValues("inbound", reason).Inc()
		s.log.Warn("inbound stream header not read", "peer", in.peer.String(), "err", err)
		c.Close()
	}
}

// admit checks the header against the config and the peer's identity and
// connects to the local app's socket.
func (s *Sidecar) admit(in *inSession, h *wirev1.StreamHeader) (net.Conn, *RefusalError) {
	if h.GetVersion() != mux.HeaderVersion {
		return nil, &RefusalError{Reason: "version", Code: codeFailedPrecondition,
			Message: fmt.Sprintf("header version %d is not supported (this sidecar speaks %d); upgrade the older side", h.GetVersion(), mux.HeaderVersion)}
	}
	svc := h.GetService()
	pol, ok := s.policies[svc]
	if !ok {
		return nil, &RefusalError{Reason: "unknown_service", Code: codeNotFound,
			Message: fmt.Sprintf("service %q is not served by this sidecar (it serves: %s); check the upstream name or address in the caller's config", svc, strings.Join(s.serviceNames(), ", "))}
	}
	if ok, _ := pol.Allows(in.tls); !ok {
		return nil, &RefusalError{Reason: "forbidden", Code: codePermissionDenied,
			Message: fmt.Sprintf("peer %s is not allowed to call service %q; add it to that service's allow list in the callee's sidecar config", in.peer.String(), svc)}
	}
	if s.draining.Load() {
		return nil, &RefusalError{Reason: "draining", Code: codeUnavailable,
			Message: "this sidecar is shutting down; retry on another replica"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	path := s.socketPath(svc)
	app, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, &RefusalError{Reason: "app_unavailable", Code: codeUnavailable,
			Message: fmt.Sprintf("the local %q app does not accept on %s (%v); check that it is running and uses socket dir %s", svc, path, err, s.cfg.SocketDir)}
	}
	return app, nil
}

// serviceNames returns the configured inbound services, sorted.
func (s *Sidecar) serviceNames() []string {
	names := make([]string, 0, len(s.cfg.Services))
	for _, svc := range s.cfg.Services {
		names = append(names, svc.Name)
	}
	slices.Sort(names)
	return names
}
