// Package transport is the podwire SDK: it turns a service name into a gRPC
// connection over a Unix domain socket when the peer is co-located, and over
// TCP with mutual TLS (multiplexed with yamux) when it is not, and gives
// servers one net.Listener for both.
package transport
