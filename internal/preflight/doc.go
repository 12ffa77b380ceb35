// Package preflight is `podwire check`: it checks what a podwire process
// needs before it starts, the way `linkerd check` does, and reports one
// Result per check with a hint for each failure: certificate files parse,
// the certificate chains to the CA, is valid now and not expiring within a
// window, carries the expected SPIFFE ID and SANs; the socket dir exists
// and no other user can write it; each *.sock in it is live or stale; each
// configured peer completes a TLS handshake with ALPN podwire-mux/1.
package preflight
