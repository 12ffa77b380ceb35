package sidecar

import (
	"strings"

	"github.com/podwire/podwire/transport"
)

// identity summarises a peer's certificate for logs and /debug/sessions.
type identity struct {
	SPIFFEID string   `json:"spiffe_id,omitempty"`
	DNSNames []string `json:"dns_names,omitempty"`
	Subject  string   `json:"subject,omitempty"`
}

// identityOf summarises a TLS peer (transport.PeerOfTLS).
func identityOf(p transport.Peer) identity {
	id := identity{SPIFFEID: p.SPIFFEID, DNSNames: p.DNSNames}
	if len(p.Chain) > 0 {
		id.Subject = p.Chain[0].Subject.CommonName
	}
	return id
}

// String returns the SPIFFE ID, else the DNS names, else the subject CN.
func (id identity) String() string {
	switch {
	case id.SPIFFEID != "":
		return id.SPIFFEID
	case len(id.DNSNames) > 0:
		return "dns:" + strings.Join(id.DNSNames, ",")
	case id.Subject != "":
		return "cn:" + id.Subject
	}
	return "(no identity)"
}
