// Package sidecar is podwire's Kubernetes sidecar: apps speak only Unix
// sockets to it, and sidecars speak one multiplexed mTLS link to each other.
//
// Outbound, for each configured upstream the sidecar listens on
// <socket dir>/<name>.sock (the SDK's co-location rule, so an app dialing
// podwire:///inventory or unix:///run/podwire/inventory.sock reaches it) and
// carries each accepted connection as one stream on a pooled mux session
// (TLS 1.3, ALPN podwire-mux/1, client certificate) to the upstream's
// sidecar, opened with a podwire.wire.v1 header naming the service.
//
// Inbound, it accepts mux sessions on TCP+TLS (client certificates
// required, handshake deadline, at most max_pending_handshakes handshakes
// in progress), reads each stream's header under a
// deadline, refuses unknown versions (FAILED_PRECONDITION), unknown
// services (NOT_FOUND) and peers outside the service's allow list
// (PERMISSION_DENIED) with a message saying what to do, connects to the
// local app's <socket dir>/<service>.sock and copies bytes both ways with
// half-close preserved and pooled buffers. The payload (gRPC or raw) is
// opaque to it, so SDK clients and servers interoperate with sidecars.
//
// The admin endpoint (loopback or a Unix socket) serves /metrics,
// /healthz, /readyz and /debug/sessions; Status renders the latter like
// netstat for `podwire status`. Shutdown drains: readiness false, stop
// accepting, GoAway to peers, and HTTP/2 GOAWAY (two-step, inserted
// between whole frames, see internal/h2drain) to every app's gRPC client,
// on both the outbound socket and inbound streams; it returns as soon as
// the clients have finished their calls and hung up, else at drain_timeout.
// Run wires it all to signals for `podwire sidecar`; on SIGHUP (or POST
// /restart) it restarts without closing a listener: it re-executes its
// binary, passes every listening socket to the new process (SCM_RIGHTS, see
// internal/handoff) and drains once the new process serves. See
// docs/sidecar-restart.md.
//
// The socket lifecycle, the allow lists, the reloading certificates, the
// capped inbound handshakes and the upstream TLS dial are the SDK's own
// (transport.ListenUnix, ParseAllowList, NewCertSource, NewTLSListener,
// DialMuxTLS), so the sidecar and SDK servers follow the same rules.
//
// # Cost of the pair
//
// Each app connection is one mux stream, so a call through a pair pays no
// stream setup: it pays the mux+TLS link (like an SDK client on a mux
// stream) plus four one-way Unix-socket hops (app → A and B → app for the
// request, app → B and A → app for the response) and four passes of the
// copy loop. Measured with `podwire bench --rows
// raw-uds,grpc-tls,podwire-mux-tls,sidecar --workloads unary_c1,pingpong`
// on a shared 2-core VM (3 runs, Go 1.26): a raw UDS round trip is 8.5 µs,
// so the four hops cost ~17 µs; the sidecar row is 19–20 µs slower than
// podwire-mux-tls in ping-pong and 22–24 µs slower in unary (where each
// call also carries gRPC's ping-ack and window-update write from the
// client), which leaves ~2–3 µs for the four copy passes (ping-pong). The
// copy loop does one read(2), one write and one read(2) that returns EAGAIN
// per message and itself allocates nothing per message; the EAGAIN read
// cannot be skipped after a short read, because the netpoller is
// edge-triggered and a peer's shutdown that arrived before that read would
// never be signalled again. With bare gRPC+TLS at ~45 µs those ~23 µs alone
// are 0.5× of it, so the pair meets its 1.6× target only while mux+TLS
// stays within ~1.1× of bare gRPC+TLS (its own target).
//
// To run a pair in-process (tests, benchmarks): build a Config for each
// side (DefaultConfig, set SocketDir, TLS, Services or Upstreams, Admin
// "127.0.0.1:0"), pass a pre-bound listener with WithInboundListener to the
// serving side, call New and Start, and point the calling side's upstream
// Address at the serving side's InboundAddr.
package sidecar
