package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Report is everything a run produced; it is what --json writes.
type Report struct {
	Machine Machine `json:"machine"`
	Method  Method  `json:"method"`
	// Rows holds one Result per row and workload that ran, in report order.
	Rows []Result `json:"rows"`
	// MissingRows lists rows that did not run and why.
	MissingRows []MissingRow `json:"missing_rows"`
	// Targets evaluates the targets on this run.
	Targets []TargetResult `json:"targets"`
	// Workloads describes the workload ids used in Rows.
	Workloads []WorkloadInfo `json:"workloads"`
	// Processes lists the bench process and, as deployed, every server
	// process of the first measured round with its GOMAXPROCS and CPUs.
	Processes []ProcessInfo `json:"processes"`
}

// Method records how the run was made so a reader can repeat it.
// Its fields mirror Config; ElapsedS is the wall time of the whole run.
type Method struct {
	Mode         string  `json:"mode"`
	Placement    string  `json:"placement"`
	Rounds       int     `json:"rounds"`
	WarmupMS     float64 `json:"warmup_ms"`
	DurationMS   float64 `json:"duration_ms"`
	SetupCount   int     `json:"setup_count"`
	IdleChannels int     `json:"idle_channels"`
	Streams      int     `json:"streams"`
	BulkPerCall  int     `json:"bulk_per_call"`
	Seed         int64   `json:"seed"`
	ElapsedS     float64 `json:"elapsed_s"`
}

// MissingRow is a row that did not run.
type MissingRow struct {
	// ID is the row id, e.g. "sidecar".
	ID string `json:"id"`
	// Reason says why: its code is not in this build, or it failed to start.
	Reason string `json:"reason"`
}

// WorkloadInfo names a workload and its headline figure.
type WorkloadInfo struct {
	// ID is the workload id used in Result.Workload, e.g. "unary_c1".
	ID string `json:"id"`
	// Title says what the workload does.
	Title string `json:"title"`
	// Headline names the figure that spread and the ratios use.
	Headline string `json:"headline"`
}

// column is one figure of a workload table.
type column struct {
	header string
	get    func(Result) float64
	// zeroOK prints a measured 0 as "0" (counts); otherwise 0 means "not
	// applicable" and prints as "—".
	zeroOK bool
}

var (
	colP50    = column{"p50 µs", func(r Result) float64 { return r.P50US }, false}
	colP90    = column{"p90 µs", func(r Result) float64 { return r.P90US }, false}
	colP99    = column{"p99 µs", func(r Result) float64 { return r.P99US }, false}
	colP999   = column{"p99.9 µs", func(r Result) float64 { return r.P999US }, false}
	colOps    = column{"ops/s", func(r Result) float64 { return r.RPS }, false}
	colRPS    = column{"RPC/s", func(r Result) float64 { return r.RPS }, false}
	colMiBs   = column{"MiB/s", func(r Result) float64 { return r.MiBS }, false}
	colAllocs = column{"allocs/op", func(r Result) float64 { return deref(r.AllocsOp) }, true}
	colBytes  = column{"B/op", func(r Result) float64 { return deref(r.BytesOp) }, true}
	colHeap   = column{"heap B/unit", func(r Result) float64 { return r.HeapBytesPerUnit }, false}
	colGor    = column{"goroutines/unit", func(r Result) float64 { return r.GoroutinesPerUnit }, true}
	colRSS    = column{"RSS Δ KiB", func(r Result) float64 { return r.RSSDeltaKiB }, false}
)

// columnsFor lists the figures shown for a kind, headline first.
func columnsFor(k kind) []column {
	switch k {
	case kindThroughput:
		return []column{colRPS, colP50, colP99, colAllocs, colBytes}
	case kindBulk:
		return []column{colMiBs, colAllocs, colBytes}
	case kindMemory:
		return []column{colHeap, colGor, colRSS}
	default:
		return []column{colP50, colP90, colP99, colP999, colOps, colAllocs, colBytes}
	}
}

// WriteMarkdown writes the report as markdown: a header with the machine
// and method, one table per workload, and the targets.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	r.writeHeader(&b)
	for _, wl := range allWorkloads() {
		var rows []Result
		for _, res := range r.Rows {
			if res.Workload == wl.ID {
				rows = append(rows, res)
			}
		}
		if len(rows) == 0 {
			continue
		}
		writeWorkloadTable(&b, wl, rows)
	}
	writeCosts(&b, r.Rows)
	writeProcesses(&b, r.Processes)
	writeTargets(&b, r.Targets)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writeHeader(b *strings.Builder) {
	m, me := r.Machine, r.Method
	fmt.Fprintf(b, "# podwire bench\n\n")
	fmt.Fprintf(b, "- machine: %s, %d CPUs, GOMAXPROCS %d, %s %s/%s\n", m.CPUModel, m.CPUs, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch)
	fmt.Fprintf(b, "- date: %s; run took %.1f s; load average (1 5 15 min) %s at the start, %s at the end\n", m.Date, me.ElapsedS, orNA(m.LoadAvgStart), orNA(m.LoadAvgEnd))
	if me.Placement == PlacementInProcess {
		fmt.Fprintf(b, "- placement: inprocess (diagnostic): every server and sidecar runs in the bench process; allocs/op and B/op count client and server together\n")
	} else {
		fmt.Fprintf(b, "- placement: deployed: every server, sidecar and nginx runs in its own process, restarted with fresh connections every round; the clients run in the bench process; allocs/op, B/op and memory figures count the client side only\n")
	}
	fmt.Fprintf(b, "- mode: %s; %d measured rounds after one warm-up round (%.0f ms per timed workload); rows in a new shuffled order every round (seed %d)\n",
		me.Mode, me.Rounds, me.WarmupMS, me.Seed)
	fmt.Fprintf(b, "- per row and round: timed workloads run %.0f ms; setup makes %d channels; idle_mem holds %d channels; streams holds %d streams; bulk asks %d × 1 MiB per call, one untimed call and then at least %d timed calls\n",
		me.DurationMS, me.SetupCount, me.IdleChannels, me.Streams, me.BulkPerCall, minBulkCalls)
	fmt.Fprintf(b, "- figures are medians across rounds; spread = interquartile range ÷ median of the headline figure across rounds\n")
	fmt.Fprintf(b, "- ÷ twin = headline ÷ the bare grpc-go row of the same transport (TLS for mux+tls and sidecar); UDS÷TCP = headline ÷ the TCP row of the same family\n")
	for _, mr := range r.MissingRows {
		fmt.Fprintf(b, "- missing row %s: %s\n", mr.ID, mr.Reason)
	}
	b.WriteString("\n")
}

func writeWorkloadTable(b *strings.Builder, wl workload, rows []Result) {
	cols := columnsFor(wl.kind)
	fmt.Fprintf(b, "## %s: %s\n\n", wl.ID, wl.Title)
	head := []string{"row", "transport"}
	align := []string{"---", "---"}
	for _, c := range cols {
		head = append(head, c.header)
		align = append(align, "---:")
	}
	head = append(head, "spread", "÷ twin", "UDS÷TCP")
	align = append(align, "---:", "---:", "---:")
	fmt.Fprintf(b, "| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(align, "|"))
	for _, r := range rows {
		cells := []string{r.Row, r.Transport}
		if r.Error != "" {
			cells = append(cells, "failed: "+strings.ReplaceAll(r.Error, "|", "/"))
			for range len(cols) { // the other figures and spread
				cells = append(cells, "")
			}
		} else {
			for _, c := range cols {
				v := c.get(r)
				if v == 0 && c.zeroOK {
					cells = append(cells, "0")
					continue
				}
				cells = append(cells, formatFigure(v))
			}
			cells = append(cells, fmt.Sprintf("%.0f%%", 100*r.Spread))
		}
		cells = append(cells, formatRatio(r.VsTwin), formatRatio(r.UDSvsTCP))
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
	}
	b.WriteString("\n")
}

func writeTargets(b *strings.Builder, ts []TargetResult) {
	if len(ts) == 0 {
		return
	}
	b.WriteString("## targets\n\n| target | ratio | limit | result |\n|---|---:|---:|---|\n")
	for _, t := range ts {
		verdict := "met"
		switch {
		case t.Ratio == nil:
			verdict = "not computed: " + t.Missing
		case !t.OK:
			verdict = fmt.Sprintf("missed by %.1f%%", 100*abs(*t.Ratio-t.Limit)/t.Limit)
		}
		fmt.Fprintf(b, "| %s (%s ÷ %s, %s) | %s | %s %.2f | %s |\n", t.Name, t.Numerator, t.Denominator,
			t.Workload, formatRatio(t.Ratio), t.Op, t.Limit, verdict)
	}
	b.WriteString("\n")
}

// formatFigure prints a figure with precision that suits its size; 0 and
// non-finite values print as "—" (not applicable or not measured).
func formatFigure(v float64) string {
	switch a := math.Abs(v); {
	case v == 0 || math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// deref reads an optional figure, 0 when absent.
func deref(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

func formatRatio(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", *v)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// writeCosts writes where the time goes: wake-ups, goroutine runs and CPU
// per op of the latency and bulk workloads, every process of the row summed.
func writeCosts(b *strings.Builder, rows []Result) {
	var any bool
	for _, r := range rows {
		any = any || r.Cost != nil
	}
	if !any {
		return
	}
	b.WriteString("## where the time goes (per op, all the row's processes)\n\n")
	b.WriteString("wake-ups = voluntary context switches (a thread blocked, then was woken), server = the part in the server processes; preempt = involuntary switches; go runs = goroutines put on a thread to run, estimated as 8 × the runtime/metrics /sched/latencies count (the runtime samples 1 in 8); CPU = on-CPU time of every thread\n\n")
	b.WriteString("| workload | row | wake-ups | server wake-ups | preempt | go runs | CPU µs |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, wl := range []string{"unary_c1", "pingpong", "unary_c16", "bulk"} {
		for _, r := range rows {
			if r.Workload != wl || r.Cost == nil {
				continue
			}
			c := r.Cost
			fmt.Fprintf(b, "| %s | %s | %.1f | %.1f | %.2f | %.1f | %.1f |\n", wl, r.Row, c.Wakeups, c.ServerWakeups, c.Preempts, c.GoRuns, c.CPUUS)
		}
	}
	b.WriteString("\n")
}

// writeProcesses lists the processes of the first measured round.
func writeProcesses(b *strings.Builder, ps []ProcessInfo) {
	if len(ps) == 0 {
		return
	}
	b.WriteString("## processes (first measured round)\n\n| row | role | pid | GOMAXPROCS | CPUs |\n|---|---|---:|---:|---|\n")
	for _, p := range ps {
		g := "—"
		if p.GOMAXPROCS > 0 {
			g = fmt.Sprint(p.GOMAXPROCS)
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s |\n", p.Row, p.Role, p.PID, g, orNA(p.CPUs))
	}
	b.WriteString("\n")
}
