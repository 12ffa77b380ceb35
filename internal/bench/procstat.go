package bench

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// osStats are a process's kernel scheduler counts summed over its threads
// (Linux /proc/<pid>/task/*/{status,schedstat}).
type osStats struct {
	// Voluntary counts a thread blocking (and so, later, a wake-up).
	Voluntary uint64
	// Involuntary counts a thread preempted while it could still run.
	Involuntary uint64
	// RunNS is CPU time on a CPU, nanoseconds.
	RunNS uint64
	// Threads is the number of threads at the time of reading.
	Threads int
}

func (a osStats) sub(b osStats) osStats {
	return osStats{Voluntary: a.Voluntary - b.Voluntary, Involuntary: a.Involuntary - b.Involuntary,
		RunNS: a.RunNS - b.RunNS, Threads: a.Threads}
}

// readOSStats sums pid's thread counts; ok is false where /proc is absent.
// A thread that exits between two readings takes its counts with it; Go
// and nginx keep their threads, so the deltas hold.
func readOSStats(pid int) (osStats, bool) {
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return osStats{}, false
	}
	var s osStats
	for _, t := range tasks {
		dir := filepath.Join("/proc", strconv.Itoa(pid), "task", t.Name())
		st, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		v, iv := parseCtxtSwitches(st)
		s.Voluntary += v
		s.Involuntary += iv
		if ss, err := os.ReadFile(filepath.Join(dir, "schedstat")); err == nil {
			if f := strings.Fields(string(ss)); len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				s.RunNS += n
			}
		}
		s.Threads++
	}
	return s, true
}

// parseCtxtSwitches reads voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches from a /proc status text.
func parseCtxtSwitches(status []byte) (vol, invol uint64) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "voluntary_ctxt_switches":
			vol = n
		case "nonvoluntary_ctxt_switches":
			invol = n
		}
	}
	return vol, invol
}

// cpusAllowed reads Cpus_allowed_list of pid ("" where /proc is absent).
func cpusAllowed(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
