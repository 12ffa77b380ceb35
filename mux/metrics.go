package mux

import "time"

// Direction says who opened a stream.
type Direction string

// Stream directions, used as metric labels.
const (
	DirInbound  Direction = "inbound"  // opened by the peer, returned by Accept
	DirOutbound Direction = "outbound" // opened by this side with Open or DialService
)

// Role says which end of the underlying connection a session is.
type Role string

// Session roles, used as metric labels.
const (
	RoleClient Role = "client"
	RoleServer Role = "server"
)

// Metrics receives the events of sessions and pools. Implementations must
// be safe for concurrent use and cheap: BytesIn and BytesOut run on every
// read and write of the underlying connection. Package mux/muxprom
// implements it with Prometheus collectors on a registry the caller
// passes in (this package does not import Prometheus); nil in Config means
// none.
type Metrics interface {
	// SessionOpened and SessionClosed bracket a session's life.
	SessionOpened(role Role)
	SessionClosed(role Role)
	// StreamOpened and StreamClosed bracket a stream's life on this side.
	StreamOpened(dir Direction)
	StreamClosed(dir Direction)
	// StreamRefused counts a stream refused by this side (inbound) or by the
	// peer (outbound), with the reply code's name, e.g. "RESOURCE_EXHAUSTED".
	StreamRefused(dir Direction, reason string)
	// BytesIn and BytesOut count bytes read from and written to the
	// underlying connection, framing included.
	BytesIn(n int)
	BytesOut(n int)
	// RTT records one keepalive round trip.
	RTT(d time.Duration)
	// Redial records a Pool dial that replaces a dead session; ok says
	// whether it worked.
	Redial(ok bool)
	// SessionKilled counts a session this side closed because its peer
	// broke a limit; reason is one of the Kill* constants.
	SessionKilled(reason string)
}

// Reasons for Metrics.SessionKilled: which limit the peer broke.
const (
	KillPingFlood    = "ping_flood"    // more pings than Config.MaxPingsPerSecond
	KillRefusalFlood = "refusal_flood" // more refusals than Config.MaxRefusalsPerSecond
)

type nopMetrics struct{}

func (nopMetrics) SessionOpened(Role)              {}
func (nopMetrics) SessionClosed(Role)              {}
func (nopMetrics) StreamOpened(Direction)          {}
func (nopMetrics) StreamClosed(Direction)          {}
func (nopMetrics) StreamRefused(Direction, string) {}
func (nopMetrics) BytesIn(int)                     {}
func (nopMetrics) BytesOut(int)                    {}
func (nopMetrics) RTT(time.Duration)               {}
func (nopMetrics) Redial(bool)                     {}
func (nopMetrics) SessionKilled(string)            {}
