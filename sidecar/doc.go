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
// accepting, GoAway to peers, wait for streams up to drain_timeout. Run
// wires it all to signals for `podwire sidecar`.
//
// The socket lifecycle, the allow lists, the reloading certificates, the
// capped inbound handshakes and the upstream TLS dial are the SDK's own
// (transport.ListenUnix, ParseAllowList, NewCertSource, NewTLSListener,
// DialMuxTLS), so the sidecar and SDK servers follow the same rules.
//
// To run a pair in-process (tests, benchmarks): build a Config for each
// side (DefaultConfig, set SocketDir, TLS, Services or Upstreams, Admin
// "127.0.0.1:0"), pass a pre-bound listener with WithInboundListener to the
// serving side, call New and Start, and point the calling side's upstream
// Address at the serving side's InboundAddr.
package sidecar
