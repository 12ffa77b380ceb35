package mux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// PoolConfig configures a Pool. Dial is required; every other zero field
// (including those of Session) means its documented default, the value
// DefaultPoolConfig returns. Validate rejects only fields that are set and
// out of range.
type PoolConfig struct {
	// Dial returns an established connection to addr, typically TCP+TLS
	// with ALPN "podwire-mux/1". Required. The pool starts the client side
	// of a session on it.
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	// Session tunes every session the pool starts. Its Logger and Metrics
	// are also the pool's.
	Session Config

	// MaxStreamsPerSession is the stream count past which new streams
	// spill to another session to the same address. Default 1024.
	MaxStreamsPerSession int

	// IdleTimeout closes a session that has had no streams for this long.
	// Default 5 minutes.
	IdleTimeout time.Duration

	// BackoffBase and BackoffMax bound the wait before redialing an address
	// whose last dial failed: BackoffBase doubled per consecutive failure,
	// capped at BackoffMax, with equal jitter (a random half of it).
	// Defaults 100 ms and 2 s (or BackoffBase, if that is set and larger).
	BackoffBase, BackoffMax time.Duration

	// DialTimeout bounds one Dial plus session start. Default 10 s.
	DialTimeout time.Duration

	// Accept, if set, receives every stream a peer opens on one of the
	// pool's sessions (reverse calls over the same connection), each in its
	// own goroutine; it owns the stream. If nil, such streams are refused
	// with UNIMPLEMENTED.
	Accept func(c net.Conn)
}

// DefaultPoolConfig returns the pool tuning podwire ships with; set Dial.
func DefaultPoolConfig() PoolConfig {
	return PoolConfig{
		Session: DefaultConfig(),
		// One session carries thousands of streams with flat cost per
		// stream (TestManyStreams); spilling exists to bound the blast
		// radius of one connection and its head-of-line blocking.
		MaxStreamsPerSession: 1024,
		IdleTimeout:          5 * time.Minute,
		BackoffBase:          100 * time.Millisecond,
		// A peer that comes back is redialed within BackoffMax, and until
		// then every Open to it fails with the last dial error. 10 s made
		// the container suite's partition test (integration, faults:
		// disconnect pod B) recover in up to 10 s against a 5 s promise;
		// 2 s keeps recovery within it while a dead peer costs one
		// TCP+TLS attempt per 1–2 s.
		BackoffMax:  2 * time.Second,
		DialTimeout: 10 * time.Second,
	}
}

// WithDefaults returns c with every zero field set to its default, the
// Session's through Config.WithDefaults. The one place defaults apply.
func (c PoolConfig) WithDefaults() PoolConfig {
	d := DefaultPoolConfig()
	c.Session = c.Session.WithDefaults()
	orDefault(&c.MaxStreamsPerSession, d.MaxStreamsPerSession)
	orDefault(&c.IdleTimeout, d.IdleTimeout)
	orDefault(&c.BackoffBase, d.BackoffBase)
	orDefault(&c.BackoffMax, max(d.BackoffMax, c.BackoffBase))
	orDefault(&c.DialTimeout, d.DialTimeout)
	return c
}

// Validate reports the first field that is set and out of range, or nil;
// zero fields stand for their defaults and are valid.
func (c PoolConfig) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: PoolConfig.%s = %v, want %s (or 0 for the default)", ErrInvalidConfig, field, v, want)
	}
	switch {
	case c.Dial == nil:
		return fmt.Errorf("%w: PoolConfig.Dial is nil; set a function that dials a peer (TCP+TLS with ALPN podwire-mux/1)", ErrInvalidConfig)
	case c.MaxStreamsPerSession < 0:
		return bad("MaxStreamsPerSession", c.MaxStreamsPerSession, "> 0")
	case c.IdleTimeout < 0:
		return bad("IdleTimeout", c.IdleTimeout, "> 0")
	case c.BackoffBase < 0:
		return bad("BackoffBase", c.BackoffBase, "> 0")
	case c.BackoffMax < 0:
		return bad("BackoffMax", c.BackoffMax, "> 0")
	case c.BackoffMax != 0 && c.BackoffMax < c.WithDefaults().BackoffBase:
		return bad("BackoffMax", c.BackoffMax, ">= BackoffBase")
	case c.DialTimeout < 0:
		return bad("DialTimeout", c.DialTimeout, "> 0")
	}
	if err := c.Session.Validate(); err != nil {
		return fmt.Errorf("PoolConfig.Session: %w", err)
	}
	return nil
}

// Pool keeps sessions to peers by address: one per address, opened on
// demand, more when MaxStreamsPerSession is reached. A session that dies is
// dropped; the next Open dials again, after a backoff if dials have been
// failing. Idle sessions are closed after IdleTimeout. Safe for concurrent
// use.
type Pool struct {
	cfg     PoolConfig
	log     *slog.Logger
	metrics Metrics
	ctx     context.Context // canceled by Close: aborts dials
	cancel  context.CancelFunc

	// mu guards peers, retired and closed.
	mu      sync.Mutex
	peers   map[string]*peerState
	retired map[*Session]struct{} // draining sessions, closed by the reaper once idle
	closed  bool

	wg       sync.WaitGroup // reaper, dials, per-session accept loops
	stopReap chan struct{}
	stopOnce sync.Once
}

// peerState is the pool's state for one address; guarded by Pool.mu.
type peerState struct {
	sessions   []*Session
	dialing    *dialCall // the dial in flight, shared by all waiters
	failures   int       // consecutive failed dials
	nextDial   time.Time // no dial before this (backoff)
	lastErr    error     // the last dial error
	hadSession bool      // a session existed before: dials are redials
}

// dialCall is one dial shared by every Open waiting for it; done is closed
// once err is set.
type dialCall struct {
	notBefore time.Time // backoff: the dial starts no earlier
	done      chan struct{}
	err       error
}

// NewPool returns a pool with cfg (zero fields take defaults). It starts
// one goroutine that reaps idle sessions; Close or Shutdown stops it.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	p := &Pool{cfg: cfg, log: cfg.Session.Logger, metrics: cfg.Session.Metrics,
		peers: make(map[string]*peerState), retired: make(map[*Session]struct{}),
		stopReap: make(chan struct{})}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "podwire/mux.Pool")
	if p.metrics == nil {
		p.metrics = nopMetrics{}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.reap()
	return p, nil
}

// Open starts a stream to addr on a pooled session, dialing one if needed,
// under ctx. If the address is backing off after failed dials and ctx ends
// before the next attempt is allowed, Open fails at once with the last dial
// error. A stream on a session that later dies fails with ErrSessionClosed.
func (p *Pool) Open(ctx context.Context, addr string) (net.Conn, error) {
	return p.withSession(ctx, addr, func(s *Session) (net.Conn, error) { return s.open(ctx, true) })
}

// DialService is Open followed by the header exchange (Session.DialService).
func (p *Pool) DialService(ctx context.Context, addr string, h *wirev1.StreamHeader) (net.Conn, error) {
	if err := ValidateHeader(h); err != nil {
		return nil, err
	}
	return p.withSession(ctx, addr, func(s *Session) (net.Conn, error) { return s.dialService(ctx, h, true) })
}

// maxOpenRetries bounds how many dead or draining sessions one Pool open
// moves past before it returns the last error.
const maxOpenRetries = 4

// withSession runs open on a session to addr, moving on to another session
// (or a new dial) if the chosen one turns out dead or draining.
func (p *Pool) withSession(ctx context.Context, addr string, open func(*Session) (net.Conn, error)) (net.Conn, error) {
	retries := 0
	for {
		s, call, err := p.pick(ctx, addr)
		if err != nil {
			return nil, err
		}
		if s == nil {
			if err := p.waitDial(ctx, addr, call); err != nil {
				return nil, err
			}
			continue
		}
		c, err := open(s) // takes over the reservation pick made
		if err == nil {
			return c, nil
		}
		if errors.Is(err, ErrSessionClosed) || errors.Is(err, ErrDraining) {
			p.drop(addr, s)
			// A few sessions may be dying at once; a peer that kills every
			// new session must not make this loop spin.
			if retries++; retries < maxOpenRetries && ctx.Err() == nil {
				continue
			}
		}
		return nil, err
	}
}

// pick returns a session to addr with room and reserves a slot on it, or
// the dial to wait for (starting one if none is in flight). While addr is
// backing off it fails at once if ctx ends before the next dial may start.
func (p *Pool) pick(ctx context.Context, addr string) (*Session, *dialCall, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, ErrPoolClosed
	}
	ps := p.peers[addr]
	if ps == nil {
		ps = &peerState{}
		p.peers[addr] = ps
	}
	if s := p.reserveLocked(ps); s != nil {
		return s, nil, nil
	}
	if ps.dialing == nil {
		ps.dialing = &dialCall{notBefore: ps.nextDial, done: make(chan struct{})}
		p.wg.Add(1)
		go p.dial(addr, ps.dialing)
	}
	if d, ok := ctx.Deadline(); ok && d.Before(ps.dialing.notBefore) {
		return nil, nil, fmt.Errorf("podwire/mux: pool open to %s: backing off after %d failed dials, next in %v, after ctx's deadline: %w",
			addr, ps.failures, time.Until(ps.dialing.notBefore).Round(time.Millisecond), ps.lastErr)
	}
	return nil, ps.dialing, nil
}

// reserveLocked prunes dead and draining sessions from ps and reserves a
// stream on the least loaded live one below the cap, or returns nil.
func (p *Pool) reserveLocked(ps *peerState) *Session {
	live := ps.sessions[:0]
	for _, s := range ps.sessions {
		if s.Err() != nil || s.isDraining() {
			if s.Err() == nil {
				p.retired[s] = struct{}{}
			}
			continue
		}
		live = append(live, s)
	}
	clear(ps.sessions[len(live):])
	ps.sessions = live
	sort.SliceStable(live, func(i, j int) bool { return live[i].load() < live[j].load() })
	for _, s := range live {
		if _, ok := s.tryReserve(p.cfg.MaxStreamsPerSession); ok {
			return s
		}
	}
	return nil
}

// drop removes s from addr's sessions (it is dead or draining); a live
// draining session is retired, to be closed once idle.
func (p *Pool) drop(addr string, s *Session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.peers[addr]
	if ps == nil {
		return
	}
	for i, x := range ps.sessions {
		if x == s {
			ps.sessions = append(ps.sessions[:i], ps.sessions[i+1:]...)
			break
		}
	}
	if s.Err() == nil {
		p.retired[s] = struct{}{}
	}
}

// waitDial waits for call, or fails fast if ctx ends first.
func (p *Pool) waitDial(ctx context.Context, addr string, call *dialCall) error {
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		p.mu.Lock()
		var last error
		if ps := p.peers[addr]; ps != nil {
			last = ps.lastErr
		}
		p.mu.Unlock()
		if last != nil {
			return fmt.Errorf("podwire/mux: pool open to %s: %w (last dial: %v)", addr, ctx.Err(), last)
		}
		return fmt.Errorf("podwire/mux: pool open to %s: %w", addr, ctx.Err())
	}
}
