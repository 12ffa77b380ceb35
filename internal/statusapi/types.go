package statusapi

import (
	"time"

	"github.com/podwire/podwire/mux"
)

// Kinds of process that answer /debug/sessions.
const (
	KindSidecar = "sidecar"
	KindService = "service"
)

// Snapshot is what /debug/sessions returns.
type Snapshot struct {
	Kind       string         `json:"kind,omitempty"`    // KindSidecar or KindService
	Service    string         `json:"service,omitempty"` // the service a `serve` process runs
	Ready      bool           `json:"ready"`
	NotReady   string         `json:"not_ready,omitempty"` // why not ready
	Draining   bool           `json:"draining"`
	UptimeSecs float64        `json:"uptime_s"`
	SocketDir  string         `json:"socket_dir"`
	Listeners  []ListenerInfo `json:"listeners"`
	Sessions   []SessionInfo  `json:"sessions"`
	Upstreams  []FlowInfo     `json:"upstreams"`
	Runtime    RuntimeInfo    `json:"runtime"`
}

// RuntimeInfo is the Go scheduler's view of the process, in the snapshot
// so that a benchmark or an operator can read back what it runs with.
type RuntimeInfo struct {
	// GOMAXPROCS is runtime.GOMAXPROCS now.
	GOMAXPROCS int `json:"gomaxprocs"`
	// Goroutines is runtime.NumGoroutine now.
	Goroutines int `json:"goroutines"`
	// SchedEvents is the runtime/metrics /sched/latencies:seconds count:
	// goroutines put on a thread to run, sampled 1 in 8 by the runtime.
	SchedEvents uint64 `json:"sched_events"`
}

// ListenerInfo is one socket the process accepts on.
type ListenerInfo struct {
	Role    string `json:"role"`    // "upstream", "inbound", "service", "tls" or "admin"
	Name    string `json:"name"`    // upstream or service name; "" otherwise
	Network string `json:"network"` // "unix" or "tcp"
	Address string `json:"address"` // socket path or host:port
	Mode    string `json:"mode,omitempty"`
	Owner   string `json:"owner,omitempty"`  // "uid:gid" of the socket file
	Target  string `json:"target,omitempty"` // upstream peer address
}

// SessionInfo is one mux session, inbound (accepted) or outbound (pooled).
type SessionInfo struct {
	Direction string   `json:"direction"` // "inbound" or "outbound"
	Transport string   `json:"transport"` // "mux+tls"
	Local     string   `json:"local"`
	Remote    string   `json:"remote"`
	Peer      string   `json:"peer"` // identity: SPIFFE ID, dns:..., or cn:...
	SPIFFEID  string   `json:"spiffe_id,omitempty"`
	DNSNames  []string `json:"dns_names,omitempty"`
	Streams   int      `json:"streams"`
	BytesTx   int64    `json:"bytes_tx"`         // on the wire toward the peer (TLS payload)
	BytesRx   int64    `json:"bytes_rx"`         // on the wire from the peer
	RTTMillis float64  `json:"rtt_ms,omitempty"` // absent until the first ping is answered
	AgeSecs   float64  `json:"age_s"`
	Draining  bool     `json:"draining"` // GoAway sent or received
}

// FlowInfo is the byte count of one upstream (all its streams).
type FlowInfo struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	BytesTx int64  `json:"bytes_tx"`
	BytesRx int64  `json:"bytes_rx"`
}

// FromMux fills the counters of a SessionInfo from a mux session's Info;
// the caller sets Direction, Transport and the peer identity.
func FromMux(pi mux.SessionInfo) SessionInfo {
	return SessionInfo{
		Local: pi.Local, Remote: pi.Remote, Streams: pi.Streams,
		BytesTx: int64(pi.BytesOut), BytesRx: int64(pi.BytesIn),
		RTTMillis: float64(pi.RTT) / float64(time.Millisecond), AgeSecs: pi.Age.Seconds(), Draining: pi.Draining,
	}
}
