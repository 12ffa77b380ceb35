// Package demo is `podwire demo`, podwire's main job: it starts the
// inventory and purchase sample services as two child processes on Unix
// sockets in a temp dir, places a batch of orders through purchase —
// some deliberately invalid, some retried with the same idempotency key —
// checks the invariants (no duplicate orders or reservations, stock adds
// up, purchase reached inventory over "unix"), prints a short table, and
// stops both services gracefully.
package demo
