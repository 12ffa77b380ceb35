package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/peterbourgon/ff/v3"

	"github.com/podwire/podwire/transport/certs"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runCerts writes a dev CA and per-service certificates:
// podwire certs --out DIR --service NAME [--service NAME ...] [--trust-domain D].
func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("podwire certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for ca.crt, ca.key, NAME.crt, NAME.key (env PODWIRE_OUT)")
	domain := fs.String("trust-domain", certs.DefaultTrustDomain, "SPIFFE trust domain of the URI SANs (env PODWIRE_TRUST_DOMAIN)")
	var services stringList
	fs.Var(&services, "service", "service name; repeat for several (env PODWIRE_SERVICE, comma-separated)")
	if err := parseFlags(fs, args, ff.WithEnvVarSplit(",")); err != nil {
		return err
	}
	if *out == "" || len(services) == 0 {
		return fmt.Errorf("%w: podwire certs --out DIR --service NAME [--service NAME ...] [--trust-domain D]", errUsage)
	}
	if err := certs.Write(*out, services, certs.WithTrustDomain(*domain)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/ca.crt, %s/ca.key", *out, *out)
	for _, s := range services {
		fmt.Fprintf(stdout, ", %s/%s.crt, %s/%s.key", *out, s, *out, s)
	}
	fmt.Fprintf(stdout, " (trust domain %s)\n", *domain)
	return nil
}
