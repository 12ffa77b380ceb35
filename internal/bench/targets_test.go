package bench

import (
	"errors"
	"strings"
	"testing"
)

// res builds a Result for row/workload with the headline figure v.
func res(row, wl string, v float64) Result {
	r := Result{ID: row + "/" + wl, Row: row, Workload: wl, Rounds: 3}
	for _, w := range allWorkloads() {
		if w.ID == wl {
			r.kind = w.kind
		}
	}
	switch r.kind {
	case kindThroughput:
		r.RPS = v
	case kindBulk:
		r.MiBS = v
	case kindMemory:
		r.HeapBytesPerUnit = v
	default:
		r.P50US = v
	}
	return r
}

// allRowsResults gives every target's rows a figure: podwire rows at the
// given figures, the rest at fixed baselines (grpc-uds 100 µs, grpc-tls
// 200 µs and 1000 MiB/s, raw-tls channel_open 2000 µs, nginx-pair 400 µs
// and 300 MiB/s).
func allRowsResults(podUDS, podTCP, mux, muxBulk, muxSetup, sidecar, sidecarBulk float64) []Result {
	return []Result{
		res("grpc-uds", "unary_c1", 100),
		res("grpc-tls", "unary_c1", 200),
		res("grpc-tls", "bulk", 1000),
		res("raw-tls", "channel_open", 2000),
		res("nginx-pair", "unary_c1", 400),
		res("nginx-pair", "bulk", 300),
		res("podwire-uds", "unary_c1", podUDS),
		res("podwire-tcp", "unary_c1", podTCP),
		res("podwire-mux-tls", "unary_c1", mux),
		res("podwire-mux-tls", "bulk", muxBulk),
		res("podwire-mux-tls", "channel_open", muxSetup),
		res("sidecar", "unary_c1", sidecar),
		res("sidecar", "bulk", sidecarBulk),
	}
}

// withResult changes the result id of rs with f.
func withResult(rs []Result, id string, f func(*Result)) []Result {
	for i := range rs {
		if rs[i].ID == id {
			f(&rs[i])
		}
	}
	return rs
}

// allTargets maps every deployed target name to v.
func allTargets(v bool) map[string]bool {
	m := map[string]bool{}
	for _, s := range deployedTargets {
		m[s.name] = v
	}
	return m
}

func TestEvaluateTargets(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		missing map[string]string
		wantOK  map[string]bool
		// wantRatio, when set, checks the ratio of the named targets.
		wantRatio map[string]float64
		// wantMissing names targets that must carry a Missing reason containing the text.
		wantMissing map[string]string
	}{
		{
			name:    "all met",
			results: allRowsResults(98, 150, 205, 950, 150, 300, 400),
			wantOK:  allTargets(true),
			wantRatio: map[string]float64{"sidecar_vs_nginx_unary_p50": 0.75, "sidecar_vs_nginx_bulk": 400.0 / 300,
				"sidecar_unary_p50": 1.5, "uds_unary_p50": 0.98, "uds_vs_tcp_unary_p50": 98.0 / 150,
				"mux_tls_unary_p50": 1.025, "mux_tls_bulk": 0.95, "channel_setup": 0.075},
		},
		{
			name:      "all missed",
			results:   allRowsResults(110, 120, 230, 800, 400, 380, 300),
			wantOK:    allTargets(false),
			wantRatio: map[string]float64{"sidecar_vs_nginx_unary_p50": 0.95, "sidecar_vs_nginx_bulk": 1, "mux_tls_bulk": 0.8, "channel_setup": 0.2},
		},
		{
			name:    "limits are inclusive",
			results: allRowsResults(100, 1000, 210, 900, 200, 320, 360),
			wantOK:  allTargets(true),
		},
		{
			name:    "missing rows are not ok and say why",
			results: allRowsResults(100, 150, 210, 950, 150, 300, 400)[:6],
			missing: map[string]string{"podwire-uds": "transport not built", "sidecar": "no sidecar"},
			wantOK: map[string]bool{"uds_unary_p50": false, "mux_tls_unary_p50": false, "sidecar_unary_p50": false,
				"uds_vs_tcp_unary_p50": false, "sidecar_vs_nginx_bulk": false},
			wantMissing: map[string]string{"uds_unary_p50": "row podwire-uds missing: transport not built",
				"sidecar_unary_p50": "no sidecar", "mux_tls_unary_p50": "podwire-mux-tls/unary_c1 was not run"},
		},
		{
			name: "failed workload is not ok",
			results: withResult(allRowsResults(100, 150, 210, 950, 150, 300, 400), "podwire-mux-tls/bulk",
				func(r *Result) { r.Error = "bulk: stream reset" }),
			wantOK:      map[string]bool{"mux_tls_bulk": false, "mux_tls_unary_p50": true},
			wantMissing: map[string]string{"mux_tls_bulk": "failed: bulk: stream reset"},
		},
		{
			name: "zero denominator is not ok",
			results: withResult(allRowsResults(100, 150, 210, 950, 150, 300, 400), "grpc-uds/unary_c1",
				func(r *Result) { r.P50US = 0 }),
			wantOK:      map[string]bool{"uds_unary_p50": false},
			wantMissing: map[string]string{"uds_unary_p50": "measured zero"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evaluateTargets(deployedTargets, tt.results, tt.missing)
			if len(got) != len(deployedTargets) {
				t.Fatalf("got %d targets, want %d", len(got), len(deployedTargets))
			}
			byName := map[string]TargetResult{}
			for _, tr := range got {
				byName[tr.Name] = tr
			}
			for name, want := range tt.wantOK {
				if byName[name].OK != want {
					t.Errorf("%s OK = %v, want %v (%s)", name, byName[name].OK, want, byName[name].describe())
				}
			}
			for name, want := range tt.wantRatio {
				r := byName[name].Ratio
				if r == nil || abs(*r-want) > 1e-9 {
					t.Errorf("%s ratio = %v, want %v", name, r, want)
				}
			}
			for name, want := range tt.wantMissing {
				tr := byName[name]
				if tr.Ratio != nil || !strings.Contains(tr.Missing, want) {
					t.Errorf("%s = ratio %v, missing %q; want no ratio and missing containing %q", name, tr.Ratio, tr.Missing, want)
				}
			}
		})
	}
}

// TestTargetNamesAndLimits pins issue 14's targets (as deployed) and the
// earlier in-process ones, which stay as diagnostics.
func TestTargetNamesAndLimits(t *testing.T) {
	type target struct {
		name       string
		limit      float64
		op         string
		diagnostic bool
	}
	tests := []struct {
		placement string
		want      []target
	}{
		{PlacementDeployed, []target{
			{"sidecar_vs_nginx_unary_p50", 0.80, "<=", false},
			{"sidecar_vs_nginx_bulk", 1.20, ">=", false},
			{"sidecar_unary_p50", 1.8, "<=", false},
			{"uds_unary_p50", 1.00, "<=", false},
			{"uds_vs_tcp_unary_p50", 0.85, "<=", false},
			{"mux_tls_unary_p50", 1.05, "<=", false},
			{"mux_tls_bulk", 0.90, ">=", false},
			{"channel_setup", 0.10, "<=", true},
		}},
		{PlacementInProcess, []target{
			{"uds_unary_p50", 1.03, "<=", true},
			{"mux_tls_unary_p50", 1.10, "<=", true},
			{"mux_tls_bulk", 0.90, ">=", true},
			{"channel_setup", 0.10, "<=", true},
			{"sidecar_unary_p50", 1.6, "<=", true},
			{"uds_vs_tcp_unary_p50", 0.85, "<=", true},
		}},
	}
	for _, tt := range tests {
		got := evaluateTargets(targetsFor(tt.placement), nil, nil)
		if len(got) != len(tt.want) {
			t.Fatalf("%s: got %d targets, want %d", tt.placement, len(got), len(tt.want))
		}
		for i, w := range tt.want {
			g := target{got[i].Name, got[i].Limit, got[i].Op, got[i].Diagnostic}
			if g != w {
				t.Errorf("%s target %d = %+v, want %+v", tt.placement, i, g, w)
			}
		}
	}
}

func TestCheckErrorNamesTargets(t *testing.T) {
	ts := evaluateTargets(deployedTargets, allRowsResults(110, 150, 210, 950, 400, 300, 400), map[string]string{"sidecar": "no sidecar"})
	err := error(&CheckError{Failed: failedTargets(ts)})
	msg := err.Error()
	for _, want := range []string{"4 target(s) not met", "uds_unary_p50 = 1.100 (limit <= 1.00, missed by 10.0%)",
		"sidecar_unary_p50: not computed (row sidecar missing: no sidecar)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("CheckError = %q, want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "channel_setup") {
		t.Errorf("CheckError = %q names channel_setup, a diagnostic that must not fail --check", msg)
	}
	var ce *CheckError
	if !errors.As(errors.Join(errors.New("other"), err), &ce) || len(ce.Failed) != 4 {
		t.Errorf("errors.As(joined, *CheckError) failed or lost targets: %v", ce)
	}
}

func TestFillRatios(t *testing.T) {
	rows := map[string]Row{}
	for _, s := range allRows() {
		rows[s.ID] = s.Row
	}
	results := []Result{
		res("grpc-uds", "unary_c1", 50),
		res("grpc-tcp", "unary_c1", 100),
		res("grpc-tls", "bulk", 400),
		res("podwire-uds", "unary_c1", 55),
		res("podwire-tcp", "unary_c1", 110),
		res("podwire-mux-tls", "bulk", 300),
		res("raw-uds", "pingpong", 10),
		res("raw-tcp", "pingpong", 20),
		res("podwire-tls", "bulk", 0),
	}
	results[8].Error = "boom"
	fillRatios(results, rows)
	tests := []struct {
		id               string
		wantTwin, wantUT *float64
	}{
		{"grpc-uds/unary_c1", nil, ptr(0.5)},
		{"grpc-tcp/unary_c1", nil, nil},
		{"podwire-uds/unary_c1", ptr(1.1), ptr(0.5)},
		{"podwire-tcp/unary_c1", ptr(1.1), nil},
		{"podwire-mux-tls/bulk", ptr(0.75), nil},
		{"raw-uds/pingpong", nil, ptr(0.5)},
		{"podwire-tls/bulk", nil, nil},
	}
	byID := map[string]Result{}
	for _, r := range results {
		byID[r.ID] = r
	}
	for _, tt := range tests {
		r := byID[tt.id]
		if !sameRatio(r.VsTwin, tt.wantTwin) {
			t.Errorf("%s VsTwin = %v, want %v", tt.id, show(r.VsTwin), show(tt.wantTwin))
		}
		if !sameRatio(r.UDSvsTCP, tt.wantUT) {
			t.Errorf("%s UDSvsTCP = %v, want %v", tt.id, show(r.UDSvsTCP), show(tt.wantUT))
		}
	}
}

func ptr(v float64) *float64 { return &v }

func sameRatio(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return abs(*a-*b) < 1e-9
}

func show(v *float64) string { return formatRatio(v) }
