// Package rawio reads and writes sockets without waking the Go runtime's
// monitor thread.
//
// Every syscall that goes through the runtime's syscall entry
// (syscall.Read, syscall.Write, and so net.Conn's Read and Write) checks
// whether sysmon, the runtime's background monitor, is in its deep sleep,
// and if so wakes it with a futex. sysmon enters that sleep whenever every
// P is idle, which in a proxy or a server between two requests is most of
// the time. So the first read or write after each idle gap costs a thread
// wake-up (often a cross-CPU interrupt), and sysmon then polls every 20 µs
// for about a millisecond before it backs off: measured on the bench VM, two
// extra wake-ups per call in each sidecar of a pair, about 15% of the
// pair's latency (docs/benchmarks.md).
//
// A read or write on a non-blocking socket never blocks, so it does not
// need the runtime's syscall entry at all: sysmon only has to know about
// syscalls that might hold a P for long. Conn does the read(2) and
// write(2) as raw syscalls inside syscall.RawConn's Read and Write, which
// keep what matters from the runtime: waiting for readiness in the
// netpoller, deadlines, and Close waking a blocked Read or Write.
//
// Wrap is a no-op where the platform or the conn type does not allow it.
package rawio
