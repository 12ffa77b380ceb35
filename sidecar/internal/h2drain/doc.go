// Package h2drain lets an L4 proxy that carries HTTP/2 (gRPC) drain a
// connection the way an HTTP/2 server would: it follows the frame
// boundaries (the 9-byte frame headers, no HPACK) of both directions of a
// proxied connection and injects GOAWAY frames toward the client only
// between two whole frames, never inside a header block and never before
// the server's first frame (its SETTINGS).
//
// Drain is two-step, like Go's own HTTP/2 servers: GOAWAY with
// last-stream-id 2³¹−1 and a PING, so the client stops opening streams
// here; then, once the client acknowledges the PING (or after a short
// wait), GOAWAY with the highest stream id the client opened. A stream
// the client opened before the acknowledgement is therefore never
// refused: it finishes, and the client closes the connection when its
// last stream ends.
//
// A Conn pairs the two directions: ToClient wraps the writer toward the
// client, FromClient the writer toward the server. Both are safe for one
// writer each plus concurrent Drain calls.
package h2drain
