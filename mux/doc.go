// Package mux carries many logical streams over one connection with
// hashicorp/yamux, shaped for gRPC channels and raw byte streams. It never
// imports gRPC.
//
// A Session (Client or Server) wraps one established connection, usually
// TCP+TLS negotiated with ALPN "podwire-mux/1". It is a net.Listener:
// Accept yields the streams the peer opens, so a gRPC server can Serve on
// it, while Open and DialService start streams to the peer, so either side
// can call the other over the same connection. Every stream is a net.Conn
// that also has a Session() method, to reach the underlying connection
// (and the peer's certificate) from a stream.
//
// Streams start with the podwire.wire.v1 header exchange: the opener sends
// a StreamHeader naming the destination service (WriteHeader, or
// DialService which also waits for the answer), the acceptor reads it under
// a deadline (ReadStreamHeader) and answers with Accept or Refuse.
//
// Compared with plain yamux, a Session:
//   - never dies because one open timed out: Open(ctx) fails only that
//     open (yamux's StreamOpenTimeout, which closes the whole session, is
//     off);
//   - bounds inbound streams (MaxInboundStreams, AcceptBacklog) and refuses
//     the excess with RESOURCE_EXHAUSTED, which the opener sees as a
//     *RefusedError instead of a bare reset;
//   - runs its own keepalive, whose timeout is independent of the write
//     timeout, measures RTT, and puts a deadline on every write to the
//     connection so a stuck peer cannot wedge the session;
//   - writes each yamux frame header together with its body, one TLS
//     record and one syscall per frame instead of two;
//   - reports a dead session on every stream as ErrSessionClosed
//     (retryable) instead of a bare EOF.
//
// A Pool keeps one session per peer address, opened on demand, spills to
// more sessions past a stream cap, redials with backoff, drops idle
// sessions and drains with GoAway. The wire format is plain yamux: a peer
// using unmodified hashicorp/yamux interoperates.
package mux
