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
	// Diagnostic targets are reported but never fail --check.
	Diagnostic bool `json:"diagnostic,omitempty"`
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
	diagnostic  bool
}

// deployedTargets are issue 14's targets, measured as deployed, in its order.
var deployedTargets = []targetSpec{
	{name: "sidecar_vs_nginx_unary_p50", numerator: "sidecar", denominator: "nginx-pair", workload: "unary_c1", limit: 0.80, atMost: true},
	{name: "sidecar_vs_nginx_bulk", numerator: "sidecar", denominator: "nginx-pair", workload: "bulk", limit: 1.20},
	{name: "sidecar_unary_p50", numerator: "sidecar", denominator: "grpc-tls", workload: "unary_c1", limit: 1.8, atMost: true},
	{name: "uds_unary_p50", numerator: "podwire-uds", denominator: "grpc-uds", workload: "unary_c1", limit: 1.00, atMost: true},
	{name: "uds_vs_tcp_unary_p50", numerator: "podwire-uds", denominator: "podwire-tcp", workload: "unary_c1", limit: 0.85, atMost: true},
	{name: "mux_tls_unary_p50", numerator: "podwire-mux-tls", denominator: "grpc-tls", workload: "unary_c1", limit: 1.05, atMost: true},
	{name: "mux_tls_bulk", numerator: "podwire-mux-tls", denominator: "grpc-tls", workload: "bulk", limit: 0.90},
	{name: "channel_setup", numerator: "podwire-mux-tls", denominator: "raw-tls", workload: "channel_open", limit: 0.10, atMost: true, diagnostic: true},
}

// inProcessTargets are the earlier targets, measured with every peer in
// the bench process: diagnostics that show the cost without process
// boundaries.
var inProcessTargets = []targetSpec{
	{name: "uds_unary_p50", numerator: "podwire-uds", denominator: "grpc-uds", workload: "unary_c1", limit: 1.03, atMost: true, diagnostic: true},
	{name: "mux_tls_unary_p50", numerator: "podwire-mux-tls", denominator: "grpc-tls", workload: "unary_c1", limit: 1.10, atMost: true, diagnostic: true},
	{name: "mux_tls_bulk", numerator: "podwire-mux-tls", denominator: "grpc-tls", workload: "bulk", limit: 0.90, diagnostic: true},
	{name: "channel_setup", numerator: "podwire-mux-tls", denominator: "raw-tls", workload: "channel_open", limit: 0.10, atMost: true, diagnostic: true},
	{name: "sidecar_unary_p50", numerator: "sidecar", denominator: "grpc-tls", workload: "unary_c1", limit: 1.6, atMost: true, diagnostic: true},
	{name: "uds_vs_tcp_unary_p50", numerator: "podwire-uds", denominator: "podwire-tcp", workload: "unary_c1", limit: 0.85, atMost: true, diagnostic: true},
}

// targetsFor returns the targets evaluated for a placement.
func targetsFor(placement string) []targetSpec {
	if placement == PlacementInProcess {
		return inProcessTargets
	}
	return deployedTargets
}

// evaluateTargets computes every target from results; missing explains
// rows that did not run (row id → reason).
func evaluateTargets(specs []targetSpec, results []Result, missing map[string]string) []TargetResult {
	byID := make(map[string]Result, len(results))
	for _, r := range results {
		byID[r.ID] = r
	}
	out := make([]TargetResult, 0, len(specs))
	for _, s := range specs {
		t := TargetResult{Name: s.name, Limit: s.limit, Op: ">=", Numerator: s.numerator,
			Denominator: s.denominator, Workload: s.workload, Diagnostic: s.diagnostic}
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

// failedTargets returns the targets that missed or were not computed,
// diagnostics left out.
func failedTargets(ts []TargetResult) []TargetResult {
	var out []TargetResult
	for _, t := range ts {
		if !t.OK && !t.Diagnostic {
			out = append(out, t)
		}
	}
	return out
}
