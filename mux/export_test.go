package mux

import (
	"crypto/tls"
	"testing"
)

// BenchPKI returns mutual-TLS client and server configs signed by an
// in-test ECDSA P-256 CA, for the external benchmarks.
func BenchPKI(tb testing.TB) (client, server *tls.Config) {
	p := testPKI(tb)
	return p.client.Clone(), p.server.Clone()
}

// SetBatchWrites turns the batching writer on or off for sessions started
// afterwards (for A/B benchmarks) and returns the previous setting.
func SetBatchWrites(on bool) bool {
	old := batchWrites
	batchWrites = on
	return old
}
