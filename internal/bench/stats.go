package bench

import (
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// newHistogram records durations in nanoseconds from 1 ns to 1 minute with
// 3 significant digits (0.1% resolution).
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Minute), 3)
}

// record adds d to h, clamping it into the histogram's range.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	v := max(int64(d), 1)
	v = min(v, h.HighestTrackableValue())
	// RecordValue fails only out of range, which the clamp rules out.
	_ = h.RecordValue(v)
}

// percentiles are latency quantiles in microseconds.
type percentiles struct {
	P50, P90, P99, P999 float64
}

// percentilesOf reads p50/p90/p99/p99.9 of h in microseconds (zeros when empty).
func percentilesOf(h *hdrhistogram.Histogram) percentiles {
	if h.TotalCount() == 0 {
		return percentiles{}
	}
	us := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	return percentiles{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9)}
}

// median returns the median of xs (mean of the middle two for even lengths),
// NaN for no values. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// quantile returns the q-quantile (0..1) of xs by linear interpolation
// between order statistics (R type 7, as numpy's default), NaN for no values.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
}

// spread is the interquartile range over |median| of xs: the middle half
// of the rounds lies within this fraction of the median, so one disturbed
// round does not dominate it the way it dominates (max−min). It is 0 for
// fewer than two values; when the median is 0 but the values differ it
// divides by the largest |value| instead, so the result is always finite.
func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	iqr := quantile(xs, 0.75) - quantile(xs, 0.25)
	if iqr == 0 {
		return 0
	}
	d := math.Abs(median(xs))
	if d == 0 {
		d = max(math.Abs(slices.Min(xs)), math.Abs(slices.Max(xs)))
	}
	return iqr / d
}

// memSnapshot is the part of runtime.MemStats the benchmark reads.
type memSnapshot struct {
	mallocs    uint64
	totalAlloc uint64
	heapAlloc  uint64
}

func readMem() memSnapshot {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnapshot{mallocs: ms.Mallocs, totalAlloc: ms.TotalAlloc, heapAlloc: ms.HeapAlloc}
}

// perOp returns allocations and bytes allocated per operation between a and b.
func perOp(a, b memSnapshot, ops int64) (allocs, bytes float64) {
	if ops <= 0 {
		return 0, 0
	}
	return float64(b.mallocs-a.mallocs) / float64(ops), float64(b.totalAlloc-a.totalAlloc) / float64(ops)
}
