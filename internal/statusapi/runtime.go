package statusapi

import (
	"runtime"
	rtmetrics "runtime/metrics"
)

// ReadRuntime reads this process's RuntimeInfo: GOMAXPROCS, goroutines and
// the scheduler's run count from runtime/metrics.
func ReadRuntime() RuntimeInfo {
	s := []rtmetrics.Sample{{Name: "/sched/latencies:seconds"}}
	rtmetrics.Read(s)
	var n uint64
	if s[0].Value.Kind() == rtmetrics.KindFloat64Histogram {
		for _, c := range s[0].Value.Float64Histogram().Counts {
			n += c
		}
	}
	return RuntimeInfo{GOMAXPROCS: runtime.GOMAXPROCS(0), Goroutines: runtime.NumGoroutine(), SchedEvents: n}
}
