package main

import (
	"errors"
	"regexp"
	"strings"

	"github.com/podwire/podwire/transport"
)

// pkgPrefix matches the "podwire/pkg: " prefixes library errors carry.
var pkgPrefix = regexp.MustCompile(`podwire/[a-z0-9/]+: `)

// cliMessage words err for a CLI user: without the library package
// prefixes, without a step repeated by two layers ("open X: open X: …"),
// and with SDK option names replaced by flags.
func cliMessage(err error) string {
	var tce *transport.TLSConfigError
	if errors.As(err, &tce) {
		msg := "TLS configuration missing: " + tce.What + "; pass --tls-cert, --tls-key and --tls-ca (`podwire certs` makes dev certificates)"
		if tce.Err != nil {
			msg += ": " + tce.Err.Error()
		}
		return dedupe(pkgPrefix.ReplaceAllString(msg, ""))
	}
	return dedupe(pkgPrefix.ReplaceAllString(err.Error(), ""))
}

// dedupe drops a ": "-separated part equal to the part before it.
func dedupe(msg string) string {
	parts := strings.Split(msg, ": ")
	out := parts[:1]
	for _, p := range parts[1:] {
		if p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	return strings.Join(out, ": ")
}

// oneLine folds a multi-line message (a child's log tail, say) into one line.
func oneLine(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " | ")
}
