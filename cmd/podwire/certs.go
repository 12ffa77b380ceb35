package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/podwire/podwire/transport/certs"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runCerts writes a dev CA and per-service certificates.
func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("certs", "podwire certs --out DIR --service NAME [--service NAME ...] [--host H ...] [--trust-domain D]", `
Writes DIR/ca.crt and DIR/ca.key (reused when both exist) and DIR/NAME.crt,
DIR/NAME.key for each service: ECDSA P-256, valid one year, usable as client
and server certificate. Each leaf carries the URI SAN
spiffe://TRUST-DOMAIN/NAME, the DNS SANs NAME and localhost and the IP SANs
127.0.0.1 and ::1, so grpcurl and grpc-health-probe verify 127.0.0.1:PORT
without a name override; --host adds more. Development certificates, not a PKI.`, stdout, stderr)
	f.split = true
	out := f.String("out", "", "directory for ca.crt, ca.key, NAME.crt, NAME.key (required)")
	domain := f.String("trust-domain", certs.DefaultTrustDomain, "SPIFFE trust domain of the URI SANs")
	var services, hosts stringList
	f.Var(&services, "service", "service name; repeat for several (required)")
	f.Var(&hosts, "host", "extra SAN on every leaf, a DNS name or an IP; repeat for several (localhost, 127.0.0.1, ::1 are always added)")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if *out == "" || len(services) == 0 {
		return usagef("pass --out DIR and at least one --service NAME")
	}
	if err := certs.Write(*out, services, certs.WithTrustDomain(*domain), certs.WithHosts(hosts...)); err != nil {
		return asUsage(err, certs.ErrBadInput)
	}
	fmt.Fprintf(stdout, "wrote %s/ca.crt, %s/ca.key", *out, *out)
	for _, s := range services {
		fmt.Fprintf(stdout, ", %s/%s.crt, %s/%s.key", *out, s, *out, s)
	}
	fmt.Fprintf(stdout, " (trust domain %s; SANs localhost, 127.0.0.1, ::1%s)\n", *domain, prefixJoin(", ", hosts))
	return nil
}

// prefixJoin joins list with sep, with sep in front when list is not empty.
func prefixJoin(sep string, list []string) string {
	if len(list) == 0 {
		return ""
	}
	return sep + strings.Join(list, sep)
}
