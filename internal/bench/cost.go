package bench

import (
	"context"
	"os"
	"runtime"
	"strings"
)

// cost is what one operation cost the machine, summed over every process
// of the row (the bench process, which runs the client, and the row's
// server processes as deployed). Valid is false where /proc is absent.
type cost struct {
	Valid bool
	// Wakeups is voluntary context switches per op: a thread blocked and
	// had to be woken again.
	Wakeups float64
	// ServerWakeups is the share of Wakeups in the server processes.
	ServerWakeups float64
	// Preempts is involuntary context switches per op.
	Preempts float64
	// CPUUS is CPU time per op, µs, all threads of all the row's processes.
	CPUUS float64
	// GoRuns is goroutines put on a thread to run per op, estimated from
	// the runtime/metrics /sched/latencies count (sampled 1 in 8), in the
	// Go processes that answered.
	GoRuns float64
}

// goRunsSampling scales the runtime's scheduling-latency count to runs:
// the runtime samples one in eight goroutine transitions (gTrackingPeriod).
const goRunsSampling = 8

// costSnapshot is the counters of a row's processes at one moment.
type costSnapshot struct {
	valid          bool
	client, server osStats
	goRuns         uint64
}

// takeCost reads the bench process's counters and those of in's server
// processes.
func takeCost(ctx context.Context, in *instance) costSnapshot {
	var c costSnapshot
	self, ok := readOSStats(os.Getpid())
	if !ok {
		return c
	}
	c.valid, c.client = true, self
	c.goRuns = readGoStats().SchedEvents
	for _, p := range in.procs {
		if gs, ok := p.goStats(ctx); ok {
			c.goRuns += gs.SchedEvents
		}
		if s, ok := readOSStats(p.pid()); ok {
			c.server.Voluntary += s.Voluntary
			c.server.Involuntary += s.Involuntary
			c.server.RunNS += s.RunNS
		}
	}
	return c
}

// perOp turns the counters between before and c into a cost per op.
func (c costSnapshot) perOp(before costSnapshot, ops int64) cost {
	if !c.valid || !before.valid || ops <= 0 {
		return cost{}
	}
	n := float64(ops)
	cl, sv := c.client.sub(before.client), c.server.sub(before.server)
	return cost{
		Valid:         true,
		Wakeups:       float64(cl.Voluntary+sv.Voluntary) / n,
		ServerWakeups: float64(sv.Voluntary) / n,
		Preempts:      float64(cl.Involuntary+sv.Involuntary) / n,
		CPUUS:         float64(cl.RunNS+sv.RunNS) / n / 1e3,
		GoRuns:        float64(c.goRuns-before.goRuns) * goRunsSampling / n,
	}
}

// ProcessInfo is one process of a row as deployed, from the first
// measured round (the processes are restarted every round).
type ProcessInfo struct {
	// Row is the row id; "(bench)" is the bench process running the clients.
	Row string `json:"row"`
	// Role says what the process runs, e.g. "server grpc", "sidecar A", "nginx B".
	Role string `json:"role"`
	PID  int    `json:"pid"`
	// GOMAXPROCS is the Go scheduler's parallelism; 0 for nginx.
	GOMAXPROCS int `json:"gomaxprocs,omitempty"`
	// CPUs is the CPU affinity (Cpus_allowed_list), "" where unknown.
	CPUs string `json:"cpus,omitempty"`
}

// processInfos lists the bench process and every live row's processes.
func processInfos(live []*instance) []ProcessInfo {
	out := []ProcessInfo{{Row: "(bench)", Role: "clients", PID: os.Getpid(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: cpusAllowed(os.Getpid())}}
	for _, in := range live {
		for _, p := range in.procs {
			out = append(out, ProcessInfo{Row: in.row.ID, Role: p.role, PID: p.pid(),
				GOMAXPROCS: p.goProcs, CPUs: cpusAllowed(p.pid())})
		}
	}
	return out
}

// readLoadAvg returns the 1, 5 and 15 minute load averages from
// /proc/loadavg, "" where it is absent.
func readLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
