// Package host runs a sample service the way podwire services run: under
// transport.Listen (a Unix socket always, TCP+TLS when configured) with
// transport.ServerOptions (caller identity and the allow-list), with
// grpc.health.v1 and server reflection registered, RPC metrics, an
// optional loopback admin endpoint (/metrics, /healthz, /readyz), and a
// graceful stop when its context ends (GracefulStop up to a deadline, then
// Stop).
//
// inventory.Run and purchase.Run are built on Run; cmd/podwire only turns
// flags into a Config.
package host
