package bench

// Result is the aggregate of one workload on one row over all rounds: each
// figure is the median of its per-round values. Figures that do not apply
// to the workload are zero and left out of the JSON.
type Result struct {
	// ID is "<row>/<workload>", unique in a report.
	ID string `json:"id"`
	// Row, Family and Transport describe the row (see Row).
	Row       string `json:"row"`
	Family    Family `json:"family"`
	Transport string `json:"transport"`
	// Workload is the workload id, e.g. "unary_c1".
	Workload string `json:"workload"`

	// P50US .. P999US are latency percentiles in microseconds.
	P50US  float64 `json:"p50_us,omitempty"`
	P90US  float64 `json:"p90_us,omitempty"`
	P99US  float64 `json:"p99_us,omitempty"`
	P999US float64 `json:"p999_us,omitempty"`
	// RPS is operations per second (RPCs, ping-pongs or setups).
	RPS float64 `json:"rps,omitempty"`
	// MiBS is payload throughput in MiB/s (bulk).
	MiBS float64 `json:"mib_s,omitempty"`
	// AllocsOp and BytesOp count both ends (client and server share the
	// process); nil for the memory workloads, which do not measure them.
	AllocsOp *float64 `json:"allocs_op,omitempty"`
	BytesOp  *float64 `json:"bytes_op,omitempty"`
	// HeapBytesPerUnit is heap growth per idle channel or open stream.
	HeapBytesPerUnit float64 `json:"heap_bytes_per_unit,omitempty"`
	// GoroutinesPerUnit is goroutine growth per idle channel or open stream.
	GoroutinesPerUnit float64 `json:"goroutines_per_unit,omitempty"`
	// RSSDeltaKiB is process RSS growth while the streams were open (Linux).
	RSSDeltaKiB float64 `json:"rss_delta_kib,omitempty"`
	// Ops is the median number of operations per round.
	Ops float64 `json:"ops_per_round"`
	// Cost is where the time goes per op (median over rounds): thread
	// wake-ups, preemptions, goroutine runs and CPU µs, summed over the
	// bench process and the row's server processes; nil where not measured.
	Cost *CostPerOp `json:"cost_per_op,omitempty"`

	// Spread is the interquartile range ÷ median of the headline figure across rounds.
	Spread float64 `json:"spread"`
	// Rounds is the number of rounds that produced a value.
	Rounds int `json:"rounds"`
	// VsTwin is the headline figure ÷ the same figure of the bare grpc-go twin.
	VsTwin *float64 `json:"vs_twin,omitempty"`
	// UDSvsTCP is the headline figure ÷ the same figure of the TCP row of the same family.
	UDSvsTCP *float64 `json:"uds_vs_tcp,omitempty"`
	// Error says why the workload failed on this row, if it did.
	Error string `json:"error,omitempty"`

	kind kind
}

// CostPerOp is what one operation cost, summed over the row's processes.
type CostPerOp struct {
	// Wakeups counts voluntary context switches: a thread blocked and was woken.
	Wakeups float64 `json:"wakeups"`
	// ServerWakeups is the part of Wakeups in the server processes.
	ServerWakeups float64 `json:"server_wakeups"`
	// Preempts counts involuntary context switches.
	Preempts float64 `json:"preempts"`
	// GoRuns counts goroutines put on a thread to run (hand-offs included).
	GoRuns float64 `json:"go_runs"`
	// CPUUS is CPU time in µs over all threads of all the row's processes.
	CPUUS float64 `json:"cpu_us"`
}

// headline is the figure a workload is judged by.
func headline(k kind, r Result) float64 {
	switch k {
	case kindThroughput:
		return r.RPS
	case kindBulk:
		return r.MiBS
	case kindMemory:
		return r.HeapBytesPerUnit
	default:
		return r.P50US
	}
}

// headlineName names the headline figure of k for the report.
func headlineName(k kind) string {
	switch k {
	case kindThroughput:
		return "RPC/s"
	case kindBulk:
		return "MiB/s"
	case kindMemory:
		return "heap B/unit"
	default:
		return "p50"
	}
}

// aggregate folds per-round samples of one row and workload into a Result.
func aggregate(r Row, w workload, samples []sample) Result {
	res := Result{
		ID: r.ID + "/" + w.ID, Row: r.ID, Family: r.Family, Transport: r.Transport,
		Workload: w.ID, Rounds: len(samples), kind: w.kind,
	}
	if len(samples) == 0 {
		return res
	}
	col := func(f func(sample) float64) float64 {
		xs := make([]float64, len(samples))
		for i, s := range samples {
			xs[i] = f(s)
		}
		return median(xs)
	}
	res.P50US = col(func(s sample) float64 { return s.P50 })
	res.P90US = col(func(s sample) float64 { return s.P90 })
	res.P99US = col(func(s sample) float64 { return s.P99 })
	res.P999US = col(func(s sample) float64 { return s.P999 })
	res.RPS = col(func(s sample) float64 { return s.RPS })
	res.MiBS = col(func(s sample) float64 { return s.MiBs })
	if w.kind != kindMemory {
		a, b := col(func(s sample) float64 { return s.AllocsOp }), col(func(s sample) float64 { return s.BytesOp })
		res.AllocsOp, res.BytesOp = &a, &b
	}
	res.HeapBytesPerUnit = col(func(s sample) float64 { return s.HeapPerUnit })
	res.GoroutinesPerUnit = col(func(s sample) float64 { return s.GoroutinesPerUnit })
	res.RSSDeltaKiB = col(func(s sample) float64 { return s.RSSDeltaKiB })
	res.Ops = col(func(s sample) float64 { return float64(s.Ops) })
	res.Cost = aggregateCost(samples)
	heads := make([]float64, len(samples))
	for i, s := range samples {
		heads[i] = headline(w.kind, sampleResult(s))
	}
	res.Spread = spread(heads)
	return res
}

// sampleResult views one sample as a Result so headline can read it.
func sampleResult(s sample) Result {
	return Result{P50US: s.P50, RPS: s.RPS, MiBS: s.MiBs, HeapBytesPerUnit: s.HeapPerUnit}
}

// fillRatios sets VsTwin and UDSvsTCP on every result whose partner row
// produced the same workload.
func fillRatios(results []Result, rows map[string]Row) {
	byID := make(map[string]Result, len(results))
	for _, r := range results {
		byID[r.ID] = r
	}
	ratio := func(r Result, other string) *float64 {
		if other == "" || r.Error != "" || r.Rounds == 0 {
			return nil
		}
		o, ok := byID[other+"/"+r.Workload]
		if !ok || o.Error != "" || o.Rounds == 0 {
			return nil
		}
		d := headline(o.kind, o)
		if d == 0 {
			return nil
		}
		v := headline(r.kind, r) / d
		return &v
	}
	for i := range results {
		row := rows[results[i].Row]
		results[i].VsTwin = ratio(results[i], row.Twin)
		results[i].UDSvsTCP = ratio(results[i], row.TCPPeer)
	}
}

// aggregateCost takes the median of each cost figure over the samples
// that measured one; nil when none did.
func aggregateCost(samples []sample) *CostPerOp {
	var valid []cost
	for _, s := range samples {
		if s.cost.Valid {
			valid = append(valid, s.cost)
		}
	}
	if len(valid) == 0 {
		return nil
	}
	col := func(f func(cost) float64) float64 {
		xs := make([]float64, len(valid))
		for i, c := range valid {
			xs[i] = f(c)
		}
		return median(xs)
	}
	return &CostPerOp{
		Wakeups:       col(func(c cost) float64 { return c.Wakeups }),
		ServerWakeups: col(func(c cost) float64 { return c.ServerWakeups }),
		Preempts:      col(func(c cost) float64 { return c.Preempts }),
		GoRuns:        col(func(c cost) float64 { return c.GoRuns }),
		CPUUS:         col(func(c cost) float64 { return c.CPUUS }),
	}
}
