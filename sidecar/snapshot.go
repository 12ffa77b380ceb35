package sidecar

import (
	"github.com/podwire/podwire/internal/statusapi"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// Snapshot is what /debug/sessions returns and `podwire status` prints;
// the same JSON as a `podwire serve` admin (see internal/statusapi).
type Snapshot = statusapi.Snapshot

// ListenerInfo is one socket the sidecar accepts on.
type ListenerInfo = statusapi.ListenerInfo

// SessionInfo is one mux session, inbound (accepted) or outbound (pooled).
type SessionInfo = statusapi.SessionInfo

// FlowInfo is the byte count of one upstream (all its streams).
type FlowInfo = statusapi.FlowInfo

// Snapshot returns the current listeners, sessions and counters.
func (s *Sidecar) Snapshot() Snapshot {
	reason := s.notReady()
	snap := Snapshot{
		Kind:  statusapi.KindSidecar,
		Ready: reason == "", NotReady: reason, Draining: s.draining.Load(),
		SocketDir: s.cfg.SocketDir, Listeners: []ListenerInfo{}, Sessions: []SessionInfo{}, Upstreams: []FlowInfo{},
		Runtime: readRuntime(),
	}
	if ns := s.started.Load(); ns != 0 {
		snap.UptimeSecs = time.Since(time.Unix(0, ns)).Seconds()
	}
	s.mu.Lock()
	if s.admin != nil {
		snap.Listeners = append(snap.Listeners, listenerInfo("admin", "", "", s.admin.addr()))
	}
	if s.inLn != nil {
		snap.Listeners = append(snap.Listeners, listenerInfo("inbound", "", "", s.inLn.Addr().String()))
	}
	for _, u := range s.cfg.Upstreams {
		if _, ok := s.upLns[u.Name]; ok {
			snap.Listeners = append(snap.Listeners, listenerInfo("upstream", u.Name, u.Address, "unix:"+s.socketPath(u.Name)))
		}
	}
	for _, in := range s.sessions {
		pi := in.sess.Info()
		snap.Sessions = append(snap.Sessions, SessionInfo{
			Direction: "inbound", Transport: "mux+tls", Local: in.local, Remote: in.remote,
			Peer: in.peer.String(), SPIFFEID: in.peer.SPIFFEID, DNSNames: in.peer.DNSNames,
			Streams: pi.Streams, BytesTx: int64(pi.BytesOut), BytesRx: int64(pi.BytesIn),
			RTTMillis: ms(pi.RTT), AgeSecs: pi.Age.Seconds(), Draining: pi.Draining,
		})
	}
	peerIDs := make(map[string]identity, len(s.peerIDs))
	for k, v := range s.peerIDs {
		peerIDs[k] = v
	}
	s.mu.Unlock()
	for _, pi := range s.pool.Sessions() {
		id := peerIDs[pi.Addr]
		snap.Sessions = append(snap.Sessions, SessionInfo{
			Direction: "outbound", Transport: "mux+tls", Local: pi.Local, Remote: pi.Remote,
			Peer: id.String(), SPIFFEID: id.SPIFFEID, DNSNames: id.DNSNames,
			Streams: pi.Streams, BytesTx: int64(pi.BytesOut), BytesRx: int64(pi.BytesIn),
			RTTMillis: ms(pi.RTT), AgeSecs: pi.Age.Seconds(), Draining: pi.Draining,
		})
	}
	slices.SortFunc(snap.Sessions, func(a, b SessionInfo) int {
		return strings.Compare(a.Direction+a.Remote, b.Direction+b.Remote)
	})
	for _, u := range s.cfg.Upstreams {
		f := s.upFlows[u.Name]
		snap.Upstreams = append(snap.Upstreams, FlowInfo{Name: u.Name, Address: u.Address, BytesTx: f.tx.Load(), BytesRx: f.rx.Load()})
	}
	return snap
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// listenerInfo describes a listener; for Unix sockets it stats the file.
func listenerInfo(role, name, target, addr string) ListenerInfo {
	li := ListenerInfo{Role: role, Name: name, Target: target, Network: "tcp", Address: addr}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		li.Network, li.Address = "unix", path
		if fi, err := os.Stat(path); err == nil {
			li.Mode, li.Owner = fileMode(fi), fileOwner(fi)
		}
	}
	return li
}

// fileMode renders the type and permission bits like ls, e.g. "srw-rw----".
func fileMode(fi fs.FileInfo) string {
	typ := "-"
	switch {
	case fi.Mode()&fs.ModeSocket != 0:
		typ = "s"
	case fi.IsDir():
		typ = "d"
	}
	return typ + fi.Mode().Perm().String()[1:]
}
