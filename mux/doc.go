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
// (and the peer's certificate) from a stream, and CloseWrite() error, to
// half-close it like a *net.TCPConn (the sidecar's byte copying).
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
//   - bounds inbound streams (MaxInboundStreams, AcceptBacklog, and across
//     sessions a shared StreamQuota) and refuses the excess with
//     RESOURCE_EXHAUSTED, which the opener sees as a *RefusedError instead
//     of a bare reset;
//   - treats an authenticated peer as untrusted: it follows the frames
//     yamux reads (internal/framescan) and closes, with GoAway, a session
//     whose peer sends more pings than MaxPingsPerSecond (yamux answers
//     each in a new goroutine) or earns more refusals than
//     MaxRefusalsPerSecond, counting it in Metrics.SessionKilled;
//   - runs its own keepalive, whose timeout is independent of the write
//     timeout, measures RTT, and puts a deadline on every write to the
//     connection so a stuck peer cannot wedge the session;
//   - writes each yamux frame header together with its body, one TLS
//     record and one syscall per frame instead of two;
//   - reports a dead session on every stream as ErrSessionClosed
//     (retryable) instead of a bare EOF.
//
// # gRPC over streams
//
// A grpc.ClientConn rides a stream when its dialer returns one
// (grpc.WithContextDialer calling Pool.DialService), and a grpc.Server
// serves a Session (or a listener that completes the header exchange)
// directly. Share one ClientConn per peer and service rather than a stream
// per call: a channel is cheap, not free. The podwire transport package
// does this for you and also lends gRPC a pooled read buffer only while a
// stream has data (its ReadOnReady), which brings an idle channel to the
// figure below without any option. If you run gRPC over streams yourself,
// without transport, the stream already buffers what arrives, so these
// options give the same saving:
//
//	grpc.WithReadBufferSize(0), grpc.WithWriteBufferSize(128 << 10), grpc.WithSharedWriteBuffer(true)
//	grpc.ReadBufferSize(0), grpc.WriteBufferSize(128 << 10), grpc.SharedWriteBuffer(true) // server
//
// Measured on a shared 2-core VM (testdata/bench-2core.txt, medians of 6
// interleaved rounds): an idle channel, both ends, costs 27 KB of heap
// with these options and 92 KB without (plus ~27 KB of goroutine stacks
// either way); opening a channel on a live session (stream + header
// exchange) is 14× faster than a new TLS connection (84 µs vs 1.32 ms).
// Against bare gRPC over TLS in the same rounds, a 64-byte unary call's
// median latency is 1.10× (plain yamux: 1.63×) and 1 MiB messages stream
// at 0.78× (plain yamux: 0.64×), at 1.2× the CPU per MiB; a second
// 5-round run measured 1.04× throughput at equal CPU. What remains is the
// price of yamux's design: each frame's body is copied twice per side
// (sending: into yamux's queue and into our write batch, which keeps TLS
// records full; receiving: into the stream buffer and out of it) and
// passes between two goroutines per direction.
//
// A Pool keeps one session per peer address, opened on demand, spills to
// more sessions past a stream cap, redials with backoff, drops idle
// sessions and drains with GoAway. The wire format is plain yamux: a peer
// using unmodified hashicorp/yamux interoperates.
package mux
