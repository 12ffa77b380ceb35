// Package framescan follows the frame boundaries of a yamux byte stream
// (hashicorp/yamux v0.1.2 wire format) without buffering it: fed the
// bytes in whatever chunks they arrive, a Scanner reports each 12-byte
// frame header and skips data-frame bodies. podwire's mux uses it on the
// bytes yamux reads, to count frames yamux would otherwise act on without
// bound (ping SYNs, each answered in a new goroutine).
//
// Frame header, big-endian: version (1 byte, 0), type (1: 0 data, 1 window
// update, 2 ping, 3 go away), flags (2: SYN 1, ACK 2, FIN 4, RST 8),
// stream id (4), length (4: the body size of a data frame; the window
// delta, ping id or go-away code otherwise).
package framescan
