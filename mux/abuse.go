package mux

import (
	"sync"
	"time"

	"github.com/podwire/podwire/internal/framescan"
)

// killGrace bounds how long a session closed for abuse waits for its
// GoAway to be written before it closes the connection (a flooding peer
// may not be reading).
const killGrace = 100 * time.Millisecond

// tokenBucket allows rate events per second with a burst of rate. Not
// safe for concurrent use.
type tokenBucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate int, now time.Time) tokenBucket {
	return tokenBucket{rate: float64(rate), tokens: float64(rate), last: now}
}

// take spends one token at now, or reports false if none is left.
func (b *tokenBucket) take(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.rate, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// pingGuard counts the ping requests in the bytes yamux reads; only the
// reading goroutine (yamux's receive loop) uses it.
type pingGuard struct {
	scan   framescan.Scanner
	bucket tokenBucket
	pings  uint64 // ping requests seen
	fn     func(framescan.Header) bool
}

func newPingGuard(rate int) *pingGuard {
	g := &pingGuard{bucket: newTokenBucket(rate, time.Now())}
	g.fn = g.frame // once, so scanning allocates nothing per Read
	return g
}

// frame reports whether yamux may act on the frame h.
func (g *pingGuard) frame(h framescan.Header) bool {
	if h.Type != framescan.TypePing || h.Flags&framescan.FlagSYN == 0 {
		return true
	}
	g.pings++
	return g.bucket.take(time.Now())
}

// refusalGuard counts refusals on one session; safe for concurrent use.
type refusalGuard struct {
	mu     sync.Mutex // guards bucket
	bucket tokenBucket
}

// allow records one refusal and reports whether it is within budget.
func (g *refusalGuard) allow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bucket.take(time.Now())
}

// noteRefusal counts a refusal of an inbound stream and closes the
// session when the peer has earned more than MaxRefusalsPerSecond.
func (s *Session) noteRefusal() {
	if !s.refusals.allow() {
		s.kill(KillRefusalFlood, ErrRefusalFlood)
	}
}

// kill closes the session because its peer broke a limit: it records err
// as the cause, counts and logs it, sends GoAway (best effort, for at most
// killGrace) and closes the connection without flushing. Safe to call
// from any goroutine, including yamux's receive loop (it does not wait).
func (s *Session) kill(reason string, err error) {
	if !s.dead.CompareAndSwap(nil, &err) {
		return // already dying
	}
	s.metrics.SessionKilled(reason)
	s.log.Warn("closing session: the peer broke a limit", "reason", reason, "err", err,
		"max_pings_per_second", s.cfg.MaxPingsPerSecond, "max_refusals_per_second", s.cfg.MaxRefusalsPerSecond)
	sent := make(chan struct{})
	goAway := s.goTracked(func() {
		defer close(sent)
		// yamux's GoAway carries no reason text; the code is "normal",
		// the only one its API sends. The peer sees GoAway, then EOF.
		s.ys.GoAway()
	})
	s.goTracked(func() {
		if goAway {
			t := time.NewTimer(killGrace)
			select {
			case <-sent:
			case <-t.C:
			}
			t.Stop()
		}
		s.wire.abortNow()
		s.die(err)
	})
}
