package sidecar

import (
	"runtime"
	"strconv"

	"github.com/podwire/podwire/internal/statusapi"
)

// DefaultGOMAXPROCS is the sidecar's GOMAXPROCS when neither the
// gomaxprocs key nor the GOMAXPROCS environment variable sets one. A
// sidecar copies bytes between sockets: each call through a pair is a
// chain of short hand-offs, and with more than one P the runtime wakes a
// second thread (and a second CPU) for nearly every hand-off. Measured as
// deployed on 2 vCPUs (docs/benchmarks.md): GOMAXPROCS 1 cuts the pair's
// unary p50 and its wake-ups per call, and raises its bulk MiB/s.
const DefaultGOMAXPROCS = 1

// RuntimeInfo is the Go scheduler's view of the sidecar process, in the
// Snapshot: what GOMAXPROCS applies, and counters a benchmark can read
// around a workload to count goroutine hand-offs.
type RuntimeInfo = statusapi.RuntimeInfo

// readRuntime reads RuntimeInfo of this process.
func readRuntime() RuntimeInfo { return statusapi.ReadRuntime() }

// gomaxprocs decides the process's GOMAXPROCS from the config: an explicit
// gomaxprocs key (or PODWIRE_GOMAXPROCS) wins; otherwise a GOMAXPROCS
// environment variable the operator set stands; otherwise
// DefaultGOMAXPROCS, never above what the runtime chose (which follows the
// container's CPU limit). It returns the value and where it came from.
func (c Config) gomaxprocs(lookup func(string) (string, bool)) (int, string) {
	if c.GOMAXPROCS > 0 {
		return c.GOMAXPROCS, "config gomaxprocs"
	}
	if v, ok := lookup("GOMAXPROCS"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return runtime.GOMAXPROCS(0), "GOMAXPROCS environment variable"
		}
	}
	return min(DefaultGOMAXPROCS, runtime.GOMAXPROCS(0)), "default"
}

// applyGOMAXPROCS sets the process's GOMAXPROCS as gomaxprocs decides and
// returns the value and its source. Only Run calls it: a Sidecar made with
// New inside another program leaves that program's scheduler alone.
func (c Config) applyGOMAXPROCS(lookup func(string) (string, bool)) (int, string) {
	n, src := c.gomaxprocs(lookup)
	runtime.GOMAXPROCS(n)
	return n, src
}
