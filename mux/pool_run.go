package mux

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"time"
)

// dial runs one shared dial for addr, after the backoff in call, and
// publishes the result to the peer state and every waiter.
func (p *Pool) dial(addr string, call *dialCall) {
	defer p.wg.Done()
	s, err := p.connect(addr, call.notBefore)
	p.mu.Lock()
	ps := p.peers[addr]
	ps.dialing = nil
	redial := ps.hadSession || ps.failures > 0
	if err == nil && p.closed {
		err = ErrPoolClosed
	}
	if err != nil {
		ps.failures++
		ps.lastErr = err
		ps.nextDial = time.Now().Add(p.backoff(ps.failures))
	} else {
		ps.failures, ps.lastErr, ps.nextDial = 0, nil, time.Time{}
		ps.sessions = append(ps.sessions, s)
		ps.hadSession = true
		p.wg.Add(1)
		go p.serve(s)
	}
	p.mu.Unlock()
	if err != nil && s != nil {
		s.Close()
	}
	if redial {
		p.metrics.Redial(err == nil)
	}
	if err != nil {
		p.log.Warn("dial failed", "addr", addr, "err", err)
	} else {
		p.log.Debug("session up", "addr", addr, "redial", redial)
	}
	call.err = err
	close(call.done)
}

// connect waits until notBefore, then dials addr and starts a client
// session on the connection, all bounded by DialTimeout and the pool's life.
func (p *Pool) connect(addr string, notBefore time.Time) (*Session, error) {
	if wait := time.Until(notBefore); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.ctx.Done():
			return nil, ErrPoolClosed
		}
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.DialTimeout)
	defer cancel()
	conn, err := p.cfg.Dial(ctx, addr)
	if err != nil {
		if p.ctx.Err() != nil {
			return nil, ErrPoolClosed
		}
		return nil, fmt.Errorf("podwire/mux: dial %s: %w", addr, err)
	}
	s, err := Client(conn, p.cfg.Session)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("podwire/mux: start session to %s: %w", addr, err)
	}
	return s, nil
}

// backoff returns the wait after n consecutive failures: BackoffBase
// doubled n-1 times, capped at BackoffMax, with equal jitter.
func (p *Pool) backoff(n int) time.Duration {
	d := p.cfg.BackoffBase
	for i := 1; i < n && d < p.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, p.cfg.BackoffMax)
	half := d / 2
	return half + rand.N(d-half+1)
}

// serve hands the streams a peer opens on s to PoolConfig.Accept, or
// refuses them, until s dies.
func (p *Pool) serve(s *Session) {
	defer p.wg.Done()
	for {
		c, err := s.Accept()
		if err != nil {
			return
		}
		if p.cfg.Accept == nil {
			Refuse(c, codeUnimplemented, "this side accepts no streams (its mux.Pool has no Accept handler)")
			continue
		}
		p.wg.Add(1) // safe: this goroutine holds a count, so Wait cannot be at zero
		go func() {
			defer p.wg.Done()
			p.cfg.Accept(c)
		}()
	}
}

// reap closes idle sessions, and retired (draining) ones once idle, every
// quarter of IdleTimeout (at most every 30 s).
func (p *Pool) reap() {
	defer p.wg.Done()
	period := min(max(p.cfg.IdleTimeout/4, 10*time.Millisecond), 30*time.Second)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-p.stopReap:
			return
		}
		for _, s := range p.collectIdle(time.Now()) {
			s.Close()
		}
	}
}

// collectIdle removes and returns the sessions to close now.
func (p *Pool) collectIdle(now time.Time) []*Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*Session
	for addr, ps := range p.peers {
		live := ps.sessions[:0]
		for _, s := range ps.sessions {
			idle, since := s.idle()
			if s.Err() != nil || (idle && now.Sub(since) >= p.cfg.IdleTimeout) {
				out = append(out, s)
				continue
			}
			live = append(live, s)
		}
		clear(ps.sessions[len(live):])
		ps.sessions = live
		if len(ps.sessions) == 0 && ps.dialing == nil && ps.failures == 0 {
			delete(p.peers, addr)
		}
	}
	for s := range p.retired {
		if idle, _ := s.idle(); idle || s.Err() != nil {
			delete(p.retired, s)
			out = append(out, s)
		}
	}
	return out
}

// SessionInfo describes one session, for status pages (JSON-friendly).
type SessionInfo struct {
	Addr     string        `json:"addr,omitempty"` // the pool address it was dialed for
	Role     Role          `json:"role"`
	Local    string        `json:"local"`
	Remote   string        `json:"remote"`
	Streams  int           `json:"streams"`
	RTT      time.Duration `json:"rtt_ns"`
	Age      time.Duration `json:"age_ns"`
	BytesIn  uint64        `json:"bytes_in"`
	BytesOut uint64        `json:"bytes_out"`
	Draining bool          `json:"draining"`
}

// Info describes the session now. Addr is empty (a Pool fills it in).
func (s *Session) Info() SessionInfo {
	return SessionInfo{
		Role:     s.role,
		Local:    s.conn.LocalAddr().String(),
		Remote:   s.conn.RemoteAddr().String(),
		Streams:  s.NumStreams(),
		RTT:      s.RTT(),
		Age:      time.Since(s.created),
		BytesIn:  s.wire.bytesIn.Load(),
		BytesOut: s.wire.bytesOut.Load(),
		Draining: s.isDraining(),
	}
}

// Sessions describes the pool's live sessions, sorted by address.
func (p *Pool) Sessions() []SessionInfo {
	type entry struct {
		addr string
		s    *Session
	}
	var all []entry
	p.mu.Lock()
	for addr, ps := range p.peers {
		for _, s := range ps.sessions {
			all = append(all, entry{addr, s})
		}
	}
	p.mu.Unlock()
	out := make([]SessionInfo, 0, len(all))
	for _, e := range all {
		if e.s.Err() != nil {
			continue
		}
		info := e.s.Info()
		info.Addr = e.addr
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Addr != out[j].Addr {
			return out[i].Addr < out[j].Addr
		}
		return out[i].Age > out[j].Age
	})
	return out
}

// takeAll marks the pool closed and returns every session it holds.
func (p *Pool) takeAll() []*Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var out []*Session
	for _, ps := range p.peers {
		out = append(out, ps.sessions...)
		ps.sessions = nil
	}
	for s := range p.retired {
		out = append(out, s)
	}
	clear(p.retired)
	return out
}

// Shutdown drains the pool: new opens fail with ErrPoolClosed, every
// session sends GoAway and waits for its streams until ctx ends, then all
// are closed and the pool's goroutines have exited. It returns ctx's error
// if streams were cut off. Idempotent; safe with Close.
func (p *Pool) Shutdown(ctx context.Context) error {
	sessions := p.takeAll()
	errs := make([]error, len(sessions))
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Shutdown(ctx)
		}()
	}
	wg.Wait()
	p.stop()
	return errors.Join(errs...)
}

// Close closes every session now (their streams fail with
// ErrSessionClosed), aborts dials in flight and waits for the pool's
// goroutines, including running Accept handlers. Idempotent.
func (p *Pool) Close() error {
	for _, s := range p.takeAll() {
		s.Close()
	}
	p.stop()
	return nil
}

func (p *Pool) stop() {
	p.stopOnce.Do(func() { close(p.stopReap) })
	p.cancel()
	p.wg.Wait()
}

var _ net.Listener = (*Session)(nil)
