package purchase

import "google.golang.org/grpc/peer"

// defaultPeerName names the transport of an RPC by its address's network
// ("unix", "tcp"), or "unknown".
func defaultPeerName(p *peer.Peer) string {
	if p == nil || p.Addr == nil {
		return "unknown"
	}
	return p.Addr.Network()
}
