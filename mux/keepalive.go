package mux

import (
	"errors"
	"time"

	"github.com/hashicorp/yamux"
)

// keepalive pings every KeepAliveInterval and kills the session when a
// ping gets neither a pong nor any other inbound bytes within
// KeepAliveTimeout. yamux's own keepalive is off: it waits for the pong
// only ConnectionWriteTimeout (session.go Ping), tying liveness to the
// write timeout.
func (s *Session) keepalive() {
	defer s.wg.Done()
	t := time.NewTimer(s.cfg.KeepAliveInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.ys.CloseChan():
			return
		}
		if err := s.probe(); err != nil {
			s.log.Warn("keepalive failed; closing session", "err", err,
				"interval", s.cfg.KeepAliveInterval, "timeout", s.cfg.KeepAliveTimeout)
			s.die(err)
			return
		}
		t.Reset(s.cfg.KeepAliveInterval)
	}
}

// probe sends one ping and judges liveness; it returns nil if the session
// is alive or already closed.
func (s *Session) probe() error {
	sent := time.Now()
	res := make(chan error, 1)
	started := s.goTracked(func() {
		rtt, err := s.ys.Ping()
		if err == nil {
			s.rtt.Store(int64(rtt))
			s.metrics.RTT(rtt)
		}
		res <- err
	})
	if !started {
		return nil
	}
	timer := time.NewTimer(s.cfg.KeepAliveTimeout)
	defer timer.Stop()
	select {
	case err := <-res:
		if err == nil || errors.Is(err, yamux.ErrSessionShutdown) {
			return nil
		}
		// yamux gave up waiting (after WriteTimeout); our bound is
		// KeepAliveTimeout, so wait it out and judge by inbound traffic.
		select {
		case <-timer.C:
		case <-s.ys.CloseChan():
			return nil
		}
	case <-timer.C:
	case <-s.ys.CloseChan():
		return nil
	}
	if s.wire.sinceRead(time.Now()) < time.Since(sent) {
		return nil // bytes arrived after the ping: the peer is alive
	}
	return ErrKeepAliveTimeout
}
