package preflight

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/podwire/podwire/transport"
)

// checkPeer dials p over TLS with the client certificate and the CA and
// checks that it negotiates ALPN podwire-mux/1.
func checkPeer(ctx context.Context, cfg Config, id *identity, p Peer) Result {
	name := p.Name
	if name == "" {
		name = p.Address
	}
	check := "peer " + name + " answers TLS with " + transport.ALPNMux
	if id == nil || id.pair == nil || id.roots == nil {
		return fail(check, "not tried: needs a certificate, its key and the CA that load", "pass --tls-cert, --tls-key and --tls-ca")
	}
	host, _, err := net.SplitHostPort(p.Address)
	if err != nil {
		return fail(check, fmt.Sprintf("%q is not host:port", p.Address), "write the peer as host:port, e.g. inventory.shop.svc:15443")
	}
	sn := p.ServerName
	if sn == "" {
		sn = host
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: cfg.Timeout}, Config: &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*id.pair}, RootCAs: id.roots,
		ServerName: sn, NextProtos: []string{transport.ALPNMux},
	}}
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", p.Address)
	if err != nil {
		return fail(check, err.Error(), "check that the peer runs and is reachable from here, that its certificate is signed by --tls-ca and valid for "+sn+", and that it accepts this certificate")
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	if st.NegotiatedProtocol != transport.ALPNMux {
		return fail(check, fmt.Sprintf("handshake done but ALPN is %q", st.NegotiatedProtocol), "the peer is not a podwire sidecar or SDK server (or an old one): point --peer at its TLS port")
	}
	peer := ""
	if len(st.PeerCertificates) > 0 {
		for _, u := range st.PeerCertificates[0].URIs {
			peer = " as " + u.String()
		}
	}
	return ok(check, fmt.Sprintf("%s%s, TLS 1.3", c.RemoteAddr(), peer))
}
