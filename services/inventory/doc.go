// Package inventory is podwire's inventory sample service: items with stock
// and reservations of stock held for orders, kept in an embedded bbolt file
// so a restart loses nothing.
//
// Reserve is all-or-nothing over its lines and idempotent on the order id;
// Release and Commit are idempotent; stock never goes negative. WatchStock
// streams every stock change; each watcher has a bounded buffer
// (Config.WatchBuffer, default 256 changes) and a watcher that falls behind
// is never waited for: its backlog is dropped and it is sent the latest state
// of every SKU it watches with resync set, after which changes older than
// that state are skipped. Writers and other watchers never block on it.
//
// Wiring: OpenStore opens the data file, NewServer builds the gRPC service
// on it, and Run serves it under podwire's transport (a Unix socket always,
// TCP+TLS when configured) with health and reflection.
package inventory
