package bench

import (
	"math"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{7}, 7},
		{"odd unsorted", []float64{9, 1, 5}, 5},
		{"even is mean of middle two", []float64{4, 1, 3, 2}, 2.5},
		{"negatives", []float64{-3, -1, -2}, -2},
		{"duplicates", []float64{2, 2, 2, 9}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if got := median(in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("median modified its input: got %v, want %v", in, tt.in)
				}
			}
		})
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{40, 10, 30, 20} // sorted: 10 20 30 40
	tests := []struct {
		q, want float64
	}{
		{0, 10}, {1, 40}, {0.5, 25}, {0.25, 17.5}, {0.75, 32.5},
	}
	for _, tt := range tests {
		if got := quantile(xs, tt.q); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("quantile(%v, %v) = %v, want %v", xs, tt.q, got, tt.want)
		}
	}
	if got := quantile([]float64{7}, 0.9); got != 7 {
		t.Errorf("quantile of one value = %v, want 7", got)
	}
	if got := quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("quantile(nil) = %v, want NaN", got)
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"single", []float64{3}, 0},
		{"equal", []float64{5, 5, 5}, 0},
		// Q1 95, Q3 105 (interpolated), median 100.
		{"iqr over median", []float64{90, 100, 110}, 0.1},
		// sorted 1 2 3 4: Q1 1.75, Q3 3.25, median 2.5.
		{"even count", []float64{4, 1, 3, 2}, 1.5 / 2.5},
		// One wild round barely moves the IQR: 100..104 plus 500.
		{"outlier resisted", []float64{100, 101, 102, 103, 104, 500}, (103.75 - 101.25) / 102.5},
		// sorted -2 0 4: Q1 -1, Q3 2, median 0 → divide by 4.
		{"zero median falls back to largest magnitude", []float64{-2, 0, 4}, 3.0 / 4},
		{"negative median uses magnitude", []float64{-10, -12, -8}, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spread(tt.in); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("spread(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPercentilesOf(t *testing.T) {
	h := newHistogram()
	// 1..1000 µs, one value each: p50 ≈ 500 µs, p90 ≈ 900, p99 ≈ 990, p99.9 ≈ 999.
	for i := 1; i <= 1000; i++ {
		record(h, time.Duration(i)*time.Microsecond)
	}
	got := percentilesOf(h)
	want := percentiles{P50: 500, P90: 900, P99: 990, P999: 999}
	check := func(name string, got, want float64) {
		t.Helper()
		// HDR with 3 significant digits is within 0.1% (plus one bucket).
		if math.Abs(got-want) > want*0.002 {
			t.Errorf("%s = %.3f µs, want %.3f µs ± 0.2%%", name, got, want)
		}
	}
	check("p50", got.P50, want.P50)
	check("p90", got.P90, want.P90)
	check("p99", got.P99, want.P99)
	check("p99.9", got.P999, want.P999)

	if got := percentilesOf(newHistogram()); got != (percentiles{}) {
		t.Errorf("percentilesOf(empty) = %+v, want zeros", got)
	}
}

func TestRecordClamps(t *testing.T) {
	h := newHistogram()
	record(h, 0)
	record(h, -time.Second)
	record(h, time.Hour)
	if got, want := h.TotalCount(), int64(3); got != want {
		t.Fatalf("TotalCount = %d, want %d (out-of-range values are clamped, not dropped)", got, want)
	}
	if got, want := h.Max(), int64(time.Minute); got < want*999/1000 {
		t.Errorf("Max = %d, want about %d (clamped to the top of the range)", got, want)
	}
}

func TestPerOp(t *testing.T) {
	a := memSnapshot{mallocs: 100, totalAlloc: 1000}
	b := memSnapshot{mallocs: 300, totalAlloc: 5000}
	allocs, bytes := perOp(a, b, 4)
	if allocs != 50 || bytes != 1000 {
		t.Errorf("perOp = (%v, %v), want (50, 1000)", allocs, bytes)
	}
	if allocs, bytes := perOp(a, b, 0); allocs != 0 || bytes != 0 {
		t.Errorf("perOp with 0 ops = (%v, %v), want (0, 0)", allocs, bytes)
	}
}

func TestCPUModel(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"x86", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n", "AMD EPYC 7B13"},
		{"arm hardware", "processor\t: 0\nBogoMIPS\t: 48.00\nHardware\t: BCM2835\n", "BCM2835"},
		{"none", "processor\t: 0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cpuModel([]byte(tt.in)); got != tt.want {
				t.Errorf("cpuModel = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   int64
		wantOK bool
	}{
		{"present", "Name:\tbench\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n", 12345, true},
		{"absent", "Name:\tbench\n", 0, false},
		{"garbled", "VmRSS:\t  lots kB\n", 0, false},
		{"empty value", "VmRSS:\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseVmRSS([]byte(tt.in))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseVmRSS = (%d, %v), want (%d, %v)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
