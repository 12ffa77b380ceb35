package transport

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Handshake fairness. One TLS port has MaxPendingHandshakes handshake
// slots. Without fairness 300 silent connections from one address, each
// reconnecting when closed, kept all 256 slots and 0 of 6 good clients got
// through (issue 12). The slots are now shared by source:
//
//   - one source (an IPv4 address, or an IPv6 /64) holds at most
//     MaxPendingHandshakesPerSource (default 16) pending handshakes; a new
//     connection beyond that evicts the source's oldest connection that has
//     not sent a byte, or is closed at once if all of them have spoken;
//   - when every slot is taken, a new connection evicts the oldest silent
//     connection of the source that holds the most slots, if that source
//     holds more than the newcomer's; otherwise the newcomer is closed at
//     once (a lone source at the limit is not churned);
//   - a connection that sends nothing within FirstByteTimeout is closed
//     before HandshakeTimeout.
//
// So one or a few sources of silent connections cannot starve the others:
// a good client either finds a free slot or takes one from the biggest
// silent source.

// DefaultMaxPendingHandshakesPerSource is Config.MaxPendingHandshakesPerSource
// by default.
const DefaultMaxPendingHandshakesPerSource = 16

// errHandshakeEvicted closes a silent pending connection to make room for
// one from a smaller source; it matches ErrTooManyHandshakes.
var errHandshakeEvicted = errors.Join(ErrTooManyHandshakes, errors.New("podwire/transport: silent pending handshake evicted for a connection from a smaller source"))

// pendingConn is a connection in its TLS handshake.
type pendingConn struct {
	raw     net.Conn
	src     string
	heard   atomic.Bool // the client sent at least one byte
	evicted atomic.Bool // closed to make room; already reported
}

// pendingSet holds the pending handshakes of one TLSListener.
type pendingSet struct {
	max, perSource int

	mu     sync.Mutex                // guards the fields below
	total  int                       // pending connections
	bySrc  map[string][]*pendingConn // per source, oldest first
	closed bool                      // Close has begun: admit nothing
}

func newPendingSet(max, perSource int) *pendingSet {
	return &pendingSet{max: max, perSource: perSource, bySrc: make(map[string][]*pendingConn)}
}

// admit takes a slot for pc. It returns a victim the caller must close
// (evicted to make room), or an error: ErrListenerClosed, or one matching
// ErrTooManyHandshakes when pc must be closed.
func (p *pendingSet) admit(pc *pendingConn) (victim *pendingConn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrListenerClosed
	}
	own := len(p.bySrc[pc.src])
	switch {
	case own >= p.perSource:
		// The source's share is used: its oldest silent connection makes
		// room, so a client that speaks gets through beside silent ones
		// from its own address.
		victim = oldestSilent(p.bySrc[pc.src])
	case p.total >= p.max:
		// Every slot is taken: a source holding more than pc's takes the
		// loss; pc's own source, if it is the biggest, does not churn.
		victim = p.silentOfBiggestLocked(own)
	default:
		p.addLocked(pc)
		return nil, nil
	}
	if victim == nil {
		return nil, ErrTooManyHandshakes
	}
	p.removeLocked(victim)
	p.addLocked(pc)
	return victim, nil
}

// addLocked records pc as pending.
func (p *pendingSet) addLocked(pc *pendingConn) {
	p.bySrc[pc.src] = append(p.bySrc[pc.src], pc)
	p.total++
}

// oldestSilent returns the first of conns that sent nothing, or nil.
func oldestSilent(conns []*pendingConn) *pendingConn {
	for _, c := range conns {
		if !c.heard.Load() {
			return c
		}
	}
	return nil
}

// silentOfBiggestLocked returns the oldest connection that sent nothing
// from the biggest source holding more than than pending connections and
// a silent one, or nil.
func (p *pendingSet) silentOfBiggestLocked(than int) *pendingConn {
	var best *pendingConn
	bestN := than
	for _, conns := range p.bySrc {
		if len(conns) <= bestN {
			continue
		}
		if c := oldestSilent(conns); c != nil {
			best, bestN = c, len(conns)
		}
	}
	return best
}

// done releases pc's slot (a no-op if it was evicted).
func (p *pendingSet) done(pc *pendingConn) {
	p.mu.Lock()
	p.removeLocked(pc)
	p.mu.Unlock()
}

// removeLocked drops pc from the set if it is there.
func (p *pendingSet) removeLocked(pc *pendingConn) {
	conns := p.bySrc[pc.src]
	for i, c := range conns {
		if c == pc {
			conns = append(conns[:i:i], conns[i+1:]...)
			p.total--
			if len(conns) == 0 {
				delete(p.bySrc, pc.src)
			} else {
				p.bySrc[pc.src] = conns
			}
			return
		}
	}
}

// close admits nothing more and closes every pending connection.
func (p *pendingSet) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, conns := range p.bySrc {
		for _, c := range conns {
			c.raw.Close()
		}
	}
}

// sourceOf is the fairness key of a remote address: the IPv4 address, or
// the /64 of an IPv6 one (one host usually owns a whole /64).
func sourceOf(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return ta.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// firstByteConn is a pending connection's socket during the handshake: it
// closes the connection when no byte arrives within the first-byte
// deadline and marks the pendingConn as heard at the first byte.
type firstByteConn struct {
	net.Conn
	pc    *pendingConn
	armed atomic.Bool // the first-byte deadline is still set
}

// newFirstByteConn arms the first-byte deadline d on pc's socket.
func newFirstByteConn(pc *pendingConn, d time.Duration) *firstByteConn {
	c := &firstByteConn{Conn: pc.raw, pc: pc}
	c.armed.Store(true)
	_ = pc.raw.SetReadDeadline(time.Now().Add(d))
	return c
}

// NetConn returns the socket under the deadline, as tls.Conn's does.
func (c *firstByteConn) NetConn() net.Conn { return c.Conn }

// Read marks the connection heard and clears the first-byte deadline at
// the first bytes.
func (c *firstByteConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.armed.Load() && c.armed.CompareAndSwap(true, false) {
		c.pc.heard.Store(true)
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	return n, err
}

// SetDeadline hands deadline control to the caller.
func (c *firstByteConn) SetDeadline(t time.Time) error {
	c.armed.Store(false)
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline hands read-deadline control to the caller.
func (c *firstByteConn) SetReadDeadline(t time.Time) error {
	c.armed.Store(false)
	return c.Conn.SetReadDeadline(t)
}
