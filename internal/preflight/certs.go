package preflight

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// identity is what later checks (peers) need from the certificate checks.
type identity struct {
	pair  *tls.Certificate // nil if the pair did not load
	roots *x509.CertPool   // nil if the CA did not load
}

// checkCerts checks the files, the chain, the validity window and the SANs.
func checkCerts(cfg Config) ([]Result, *identity) {
	var rs []Result
	id := &identity{}
	const renew = "make new ones: podwire certs --out DIR --service NAME (or your CA's process)"
	if cfg.CAFile != "" {
		roots, n, err := loadCA(cfg.CAFile)
		if err != nil {
			rs = append(rs, fail("CA bundle parses", err.Error(), "pass --tls-ca with the PEM CA bundle that signed the peers' certificates"))
		} else {
			id.roots = roots
			rs = append(rs, ok("CA bundle parses", fmt.Sprintf("%s: %d certificate(s)", cfg.CAFile, n)))
		}
	}
	if cfg.CertFile == "" {
		return rs, id
	}
	pair, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return append(rs, fail("certificate and key parse and match", fmt.Sprintf("%s, %s: %v", cfg.CertFile, cfg.KeyFile, err),
			"pass --tls-cert and --tls-key of one pair, PEM encoded")), id
	}
	id.pair = &pair
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return append(rs, fail("certificate and key parse and match", err.Error(), renew)), id
	}
	rs = append(rs, ok("certificate and key parse and match", fmt.Sprintf("%s (subject %s)", cfg.CertFile, leaf.Subject)))
	if id.roots != nil {
		inter := x509.NewCertPool()
		for _, der := range pair.Certificate[1:] {
			if c, err := x509.ParseCertificate(der); err == nil {
				inter.AddCert(c)
			}
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: id.roots, Intermediates: inter, CurrentTime: cfg.Now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			rs = append(rs, fail("certificate chains to the CA", err.Error(), "the certificate was signed by another CA: pass the matching --tls-ca, or "+renew))
		} else {
			rs = append(rs, ok("certificate chains to the CA", "issuer "+leaf.Issuer.String()))
		}
	}
	rs = append(rs, validity(leaf, cfg.Now(), cfg.WarnWithin, renew))
	rs = append(rs, sanChecks(leaf, cfg)...)
	return rs, id
}

// validity checks NotBefore/NotAfter against now and the warning window.
func validity(leaf *x509.Certificate, now time.Time, within time.Duration, renew string) Result {
	const check = "certificate is valid and not expiring soon"
	left := leaf.NotAfter.Sub(now)
	switch {
	case now.Before(leaf.NotBefore):
		return fail(check, fmt.Sprintf("not valid before %s (is this machine's clock right?)", leaf.NotBefore.UTC().Format(time.RFC3339)), "check the clock, or "+renew)
	case left <= 0:
		return fail(check, fmt.Sprintf("expired %s ago, at %s", (-left).Round(time.Minute), leaf.NotAfter.UTC().Format(time.RFC3339)), renew)
	case left <= within:
		return warn(check, fmt.Sprintf("expires in %s, at %s (within --warn-within %s)", left.Round(time.Minute), leaf.NotAfter.UTC().Format(time.RFC3339), within), renew)
	}
	return ok(check, fmt.Sprintf("expires in %s, at %s", left.Round(time.Hour), leaf.NotAfter.UTC().Format(time.RFC3339)))
}

// sanChecks checks the SPIFFE ID and each expected SAN.
func sanChecks(leaf *x509.Certificate, cfg Config) []Result {
	var rs []Result
	var ids []string
	for _, u := range leaf.URIs {
		if u.Scheme == "spiffe" {
			ids = append(ids, u.String())
		}
	}
	switch {
	case cfg.SPIFFEID != "" && !slices.Contains(ids, cfg.SPIFFEID):
		rs = append(rs, fail("certificate carries the SPIFFE ID "+cfg.SPIFFEID, fmt.Sprintf("it carries %s", listOrNone(ids)),
			"peers' allow lists match this ID: make the certificate for the right service and trust domain"))
	case cfg.SPIFFEID != "":
		rs = append(rs, ok("certificate carries the SPIFFE ID "+cfg.SPIFFEID, "found"))
	case len(ids) == 0:
		rs = append(rs, warn("certificate carries a SPIFFE ID", "no spiffe:// URI SAN", "allow lists can match only dns: names; podwire certs adds spiffe://TRUST-DOMAIN/NAME"))
	default:
		rs = append(rs, ok("certificate carries a SPIFFE ID", strings.Join(ids, ", ")))
	}
	for _, h := range cfg.SANs {
		check := "certificate is valid for " + h
		if err := leaf.VerifyHostname(h); err != nil {
			rs = append(rs, fail(check, fmt.Sprintf("SANs are DNS %s, IP %s", listOrNone(leaf.DNSNames), listOrNone(ipStrings(leaf.IPAddresses))),
				"clients dialing "+h+" will refuse it: add it with podwire certs --host "+h))
			continue
		}
		rs = append(rs, ok(check, "in the SANs"))
	}
	return rs
}

// loadCA reads a PEM CA bundle.
func loadCA(path string) (*x509.CertPool, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		c, r, ok := nextCert(rest)
		if !ok {
			break
		}
		pool.AddCert(c)
		n, rest = n+1, r
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, n, nil
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
