package transport

import (
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// denyLogWindow is how often one peer's denials are logged: the first in
// each window, with the count of those suppressed since the last line.
const denyLogWindow = 10 * time.Second

// maxDenyPeers bounds the peers denyLog remembers; past it, peers whose
// window is over are forgotten, and if none is, all of them.
const maxDenyPeers = 4096

// denyLog writes the WARN line of a denied call at most once per peer per
// window, so a misconfigured or hostile caller retrying in a loop cannot
// flood the log; each line carries "suppressed", the number of denials of
// that peer not logged since its previous line. Safe for concurrent use.
type denyLog struct {
	log    *slog.Logger
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex            // guards peers
	peers map[string]*denyState // by denyKey
}

// denyState is one peer's log window.
type denyState struct {
	last       time.Time // when its last line was written
	suppressed int       // denials not logged since
}

// newDenyLog returns a denyLog writing to log once per peer per window.
func newDenyLog(log *slog.Logger, window time.Duration) *denyLog {
	return &denyLog{log: log, window: window, now: time.Now, peers: make(map[string]*denyState)}
}

// denied logs (or counts as suppressed) one denied call of pr.
func (d *denyLog) denied(pr Peer, method, reason string) {
	key, now := denyKey(pr), d.now()
	d.mu.Lock()
	st := d.peers[key]
	if st != nil && now.Sub(st.last) < d.window {
		st.suppressed++
		d.mu.Unlock()
		return
	}
	if st == nil {
		if len(d.peers) >= maxDenyPeers {
			d.pruneLocked(now)
		}
		st = &denyState{}
		d.peers[key] = st
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	d.mu.Unlock()
	d.log.Warn("podwire: permission denied", "method", method, "transport", pr.Transport.String(),
		"uid", pr.UID, "gid", pr.GID, "pid", pr.PID, "spiffe_id", pr.SPIFFEID, "dns", pr.DNSNames,
		"reason", reason, "suppressed", suppressed)
}

// pruneLocked forgets peers whose window is over, or every peer if none
// is. d.mu must be held.
func (d *denyLog) pruneLocked(now time.Time) {
	for k, st := range d.peers {
		if now.Sub(st.last) >= d.window {
			delete(d.peers, k)
		}
	}
	if len(d.peers) >= maxDenyPeers {
		clear(d.peers)
	}
}

// denyKey names the peer a denial is charged to: its uid over Unix
// sockets, its SPIFFE ID or first DNS name over TLS, else its remote host.
func denyKey(pr Peer) string {
	k := pr.Transport.String() + " "
	switch {
	case pr.Transport == KindUnix:
		return k + "uid:" + strconv.Itoa(pr.UID)
	case pr.SPIFFEID != "":
		return k + pr.SPIFFEID
	case len(pr.DNSNames) > 0:
		return k + "dns:" + pr.DNSNames[0]
	case pr.Addr != nil:
		if ta, ok := pr.Addr.(*net.TCPAddr); ok {
			return k + ta.IP.String()
		}
		return k + pr.Addr.String()
	}
	return k
}
