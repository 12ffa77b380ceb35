// Package statusapi is the JSON that podwire admin endpoints answer on
// /debug/sessions (the sidecar's and `podwire serve --admin`'s), a client
// that fetches it over TCP or a Unix socket, and the netstat-like text
// `podwire status` prints from it. A value not known yet (a session's RTT
// before its first ping) is left out of the JSON and printed as "—".
package statusapi
