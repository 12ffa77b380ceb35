package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Kind is the transport an RPC travels over.
type Kind int

// The transports podwire selects between.
const (
	KindUnknown Kind = iota // not a podwire connection
	KindUnix                // Unix domain socket (co-located)
	KindTCP                 // plaintext TCP, loopback only
	KindTLS                 // gRPC over TCP+TLS (ALPN h2)
	KindMuxTLS              // gRPC over a mux stream on TCP+TLS (ALPN podwire-mux/1)
)

// String returns "unix", "tcp", "tls", "mux+tls" or "unknown".
func (k Kind) String() string {
	switch k {
	case KindUnix:
		return "unix"
	case KindTCP:
		return "tcp"
	case KindTLS:
		return "tls"
	case KindMuxTLS:
		return "mux+tls"
	default:
		return "unknown"
	}
}

// Peer is who is on the other end of an RPC, on either side.
type Peer struct {
	Transport     Kind
	UID, GID, PID int                 // unix only (SO_PEERCRED); -1 if unknown
	SPIFFEID      string              // tls only: the URI SAN of the leaf, "" if none
	DNSNames      []string            // tls only: DNS SANs of the leaf
	Chain         []*x509.Certificate // tls only: the verified chain, leaf first
	Addr          net.Addr            // remote address
}

// AuthInfo is the credentials.AuthInfo podwire's credentials attach to every
// connection; PeerFrom and PeerOf read it. It is immutable once created.
type AuthInfo struct {
	credentials.CommonAuthInfo
	Peer Peer
	// TLS is the connection state for the tls and mux+tls kinds.
	TLS *tls.ConnectionState
}

// AuthType returns the transport kind, e.g. "unix" or "mux+tls".
func (a *AuthInfo) AuthType() string { return a.Peer.Transport.String() }

// PeerFrom returns the caller's identity inside a server handler or
// interceptor. ok is false when the connection was not set up by podwire's
// credentials (see ServerOptions).
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Peer{}, false
	}
	return PeerOf(p)
}

// PeerOf returns the identity recorded on a grpc peer; clients fill p with the
// grpc.Peer(&p) call option. ok is false when p did not come from a podwire
// connection.
func PeerOf(p *peer.Peer) (Peer, bool) {
	if p == nil {
		return Peer{}, false
	}
	ai, ok := p.AuthInfo.(*AuthInfo)
	if !ok {
		return Peer{}, false
	}
	out := ai.Peer
	if out.Addr == nil {
		out.Addr = p.Addr
	}
	return out, true
}

// PeerOfTLS returns the identity of the other end of a TLS connection
// whose handshake has completed: kind (KindTLS or KindMuxTLS), the
// verified chain (else the presented certificates), the leaf's SPIFFE ID
// and DNS names, and addr. UID, GID and PID are -1. Servers outside gRPC
// (the sidecar) use it to check an AllowList.
func PeerOfTLS(kind Kind, cs *tls.ConnectionState, addr net.Addr) Peer {
	p := Peer{Transport: kind, UID: -1, GID: -1, PID: -1, Addr: addr}
	if len(cs.VerifiedChains) > 0 {
		p.Chain = cs.VerifiedChains[0]
	} else {
		p.Chain = cs.PeerCertificates
	}
	if len(p.Chain) > 0 {
		leaf := p.Chain[0]
		p.DNSNames = leaf.DNSNames
		for _, u := range leaf.URIs {
			if u.Scheme == "spiffe" {
				p.SPIFFEID = u.String()
				break
			}
		}
	}
	return p
}
