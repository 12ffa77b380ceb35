package preflight

import (
	"crypto/x509"
	"encoding/pem"
)

// nextCert returns the next CERTIFICATE block of b that parses, and the
// rest of b after it; ok is false when none is left.
func nextCert(b []byte) (c *x509.Certificate, rest []byte, ok bool) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, nil, false
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			return c, b, true
		}
	}
}
