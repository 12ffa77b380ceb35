package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the run happened; it heads the report.
type Machine struct {
	// CPUs is runtime.NumCPU: the logical CPUs the process may use.
	CPUs int `json:"cpus"`
	// CPUModel is the first model name in /proc/cpuinfo, "unknown" elsewhere.
	CPUModel string `json:"cpu_model"`
	// GOMAXPROCS is the Go scheduler's parallelism during the run.
	GOMAXPROCS int `json:"gomaxprocs"`
	// GoVersion is runtime.Version of the benchmark binary.
	GoVersion string `json:"go_version"`
	// OS and Arch are runtime.GOOS and runtime.GOARCH.
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// Date is when the run started, RFC 3339 in UTC.
	Date string `json:"date"`
	// LoadAvgStart and LoadAvgEnd are /proc/loadavg's 1, 5 and 15 minute
	// load averages when the run started and ended: how busy the machine
	// was with other work.
	LoadAvgStart string `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string `json:"loadavg_end,omitempty"`
}

// readMachine gathers the machine header; the CPU model comes from
// /proc/cpuinfo where it exists and is "unknown" elsewhere.
func readMachine(now time.Time) Machine {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := cpuModel(b); m != "" {
			model = m
		}
	}
	return Machine{
		CPUs:       runtime.NumCPU(),
		CPUModel:   model,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		Date:       now.UTC().Format(time.RFC3339),
	}
}

// cpuModel returns the first "model name" (x86) or "Model"/"Hardware" (arm)
// value of a /proc/cpuinfo text.
func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "Hardware":
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readRSSKiB reads VmRSS from /proc/self/status; ok is false where that
// file does not exist (not Linux).
func readRSSKiB() (kib int64, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	return parseVmRSS(b)
}

// parseVmRSS finds "VmRSS:   1234 kB" in a /proc/<pid>/status text.
func parseVmRSS(status []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !found {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		return n, err == nil
	}
	return 0, false
}

// settle collects garbage twice so heap figures compare live memory, and
// returns the goroutine count and memory stats that follow.
func settle() (int, memSnapshot) {
	runtime.GC()
	runtime.GC()
	return runtime.NumGoroutine(), readMem()
}

// waitGoroutines waits up to two seconds (or ctx) for the goroutine count
// to fall back to at most n, so what one row closes does not leak into the
// next row's memory figures.
func waitGoroutines(ctx context.Context, n int) {
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}
