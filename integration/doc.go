// Package integration holds podwire's container test suite, run with
// testcontainers-go against FROM scratch images of the podwire binary.
package integration
