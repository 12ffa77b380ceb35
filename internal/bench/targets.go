package bench

import "fmt"

// TargetResult is one of the targets evaluated on this run.
type TargetResult struct {
	// Name is the target's snake_case name, e.g. "uds_unary_p50".
	Name string `json:"name"`
	// Ratio is numerator ÷ denominator; null when a row is missing.
	Ratio *float64 `json:"ratio"`
	// Limit is the bound the ratio must meet.
	Limit float64 `json:"limit"`
	// Op is "<=" or ">=": how Ratio must compare with Limit.
	Op string `json:"op"`
	// OK is true when the ratio meets the limit.
	OK bool `json:"ok"`
	// Numerator, Denominator and Workload say what was divided.
	Numerator   string `json:"numerator"`
	Denominator string `json:"denominator"`
	Workload    string `json:"workload"`
	// Missing says why the ratio could not be computed.
	Missing string `json:"missing,omitempty"`
}

// describe is the one-line verdict used by CheckError and the report.
func (t TargetResult) describe() string {
	if t.Ratio == nil {
		return fmt.Sprintf("%s: not computed (%s)", t.Name, t.Missing)
	}
	if t.OK {
		return fmt.Sprintf("%s = %.3f (limit %s %.2f, met)", t.Name, *t.Ratio, t.Op, t.Limit)
	}
	return fmt.Sprintf("%s = %.3f (limit %s %.2f, missed by %.1f%%)", t.Name, *t.Ratio, t.Op, t.Limit,
		100*abs(*t.Ratio-t.Limit)/t.Limit)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// targetSpec defines a target as a ratio of one row's headline figure over
// another's for one workload.
type targetSpec struct {
	name        string
	numerator   string
	denominator string
	workload    string
	limit       float64
	atMost      bool
}

// targetSpecs are the targets, in its order.
var targetSpecs = []targetSpec{
	{"uds_unary_p50", "podwire-uds", "grpc-uds", "unary_c1", 1.03, true},
	{"mux_tls_unary_p50", "podwire-mux-tls", "grpc-tls", "unary_c1", 1.10, true},
	{"mux_tls_bulk", "podwire-mux-tls", "grpc-tls", "bulk", 0.90, false},
	{"channel_setup", "podwire-mux-tls", "raw-tls", "channel_open", 0.10, true},
	{"sidecar_unary_p50", "sidecar", "grpc-tls", "unary_c1", 1.6, true},
	{"uds_vs_tcp_unary_p50", "podwire-uds", "podwire-tcp", "unary_c1", 0.85, true},
}

// evaluateTargets computes every target from results; missing explains
// rows that did not run (row id → reason).
func evaluateTargets(results []Result, missing map[string]string) []TargetResult {
	byID := make(map[string]Result, len(results))
	for _, r := range results {
		byID[r.ID] = r
	}
	out := make([]TargetResult, 0, len(targetSpecs))
	for _, s := range targetSpecs {
		t := TargetResult{Name: s.name, Limit: s.limit, Op: ">=", Numerator: s.numerator,
			Denominator: s.denominator, Workload: s.workload}
		if s.atMost {
			t.Op = "<="
		}
		num, why := lookup(byID, missing, s.numerator, s.workload)
		den, whyDen := lookup(byID, missing, s.denominator, s.workload)
		switch {
		case why != "":
			t.Missing = why
		case whyDen != "":
			t.Missing = whyDen
		case headline(den.kind, den) == 0:
			t.Missing = fmt.Sprintf("%s/%s measured zero", s.denominator, s.workload)
		default:
			v := headline(num.kind, num) / headline(den.kind, den)
			t.Ratio = &v
			t.OK = v <= s.limit
			if !s.atMost {
				t.OK = v >= s.limit
			}
		}
		out = append(out, t)
	}
	return out
}

// lookup finds row/workload in byID or says why it is not there.
func lookup(byID map[string]Result, missing map[string]string, row, wl string) (Result, string) {
	if why, ok := missing[row]; ok {
		return Result{}, fmt.Sprintf("row %s missing: %s", row, why)
	}
	r, ok := byID[row+"/"+wl]
	switch {
	case !ok:
		return Result{}, fmt.Sprintf("%s/%s was not run (check --rows and --workloads)", row, wl)
	case r.Error != "":
		return Result{}, fmt.Sprintf("%s/%s failed: %s", row, wl, r.Error)
	case r.Rounds == 0:
		return Result{}, fmt.Sprintf("%s/%s has no measured round", row, wl)
	}
	return r, ""
}

// failedTargets returns the targets that missed or were not computed.
func failedTargets(ts []TargetResult) []TargetResult {
	var out []TargetResult
	for _, t := range ts {
		if !t.OK {
			out = append(out, t)
		}
	}
	return out
}
