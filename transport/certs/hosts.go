package certs

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// DefaultHosts returns the names every leaf carries besides its service
// name: localhost, 127.0.0.1 and ::1, so that grpcurl, ghz and
// grpc-health-probe verify a local server by address with no name override.
func DefaultHosts() []string { return []string{"localhost", "127.0.0.1", "::1"} }

// WithHosts adds SANs to every leaf: an IP address becomes an IP SAN,
// anything else must be a DNS name (labels of letters, digits and '-';
// "*." allowed as the first label) and becomes a DNS SAN. Repeatable;
// the DefaultHosts are always included.
func WithHosts(hosts ...string) Option {
	return optionFunc(func(c *config) { c.hosts = append(c.hosts, hosts...) })
}

// validateHosts checks each extra host is an IP or a DNS name.
func validateHosts(hosts []string) error {
	for _, h := range hosts {
		if net.ParseIP(h) != nil {
			continue
		}
		if !validDNSName(h) {
			return fmt.Errorf("%w: host %q: use an IP address or a DNS name such as api.example.com", ErrBadInput, h)
		}
	}
	return nil
}

// validDNSName reports whether h is a DNS name of 1-253 bytes whose labels
// are 1-63 letters, digits and '-' not starting or ending with '-', with an
// optional leading "*." wildcard.
func validDNSName(h string) bool {
	h = strings.TrimPrefix(strings.TrimSuffix(h, "."), "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// sans returns the DNS and IP SANs of service name's leaf: the name, the
// DefaultHosts and the extra hosts, each once, in that order.
func sans(name string, extra []string) (dns []string, ips []net.IP) {
	for _, h := range append(append([]string{name}, DefaultHosts()...), extra...) {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	return dns, ips
}
