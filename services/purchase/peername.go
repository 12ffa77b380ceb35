package purchase

import (
	"google.golang.org/grpc/peer"

	"github.com/podwire/podwire/transport"
)

// defaultPeerName names the transport of an RPC as podwire's transport
// reports it ("unix", "tls", "mux+tls", "tcp"), or by its address's network
// when the connection was not made by podwire, or "unknown".
func defaultPeerName(p *peer.Peer) string {
	if tp, ok := transport.PeerOf(p); ok {
		return tp.Transport.String()
	}
	if p == nil || p.Addr == nil {
		return "unknown"
	}
	return p.Addr.Network()
}
