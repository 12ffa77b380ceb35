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
// given unary p50, the rest at fixed baselines.
func allRowsResults(podUDS, podTCP, mux, muxBulk, muxSetup, sidecar float64) []Result {
	return []Result{
		res("grpc-uds", "unary_c1", 100),
		res("grpc-tls", "unary_c1", 200),
		res("grpc-tls", "bulk", 1000),
		res("raw-tls", "channel_open", 2000),
		res("podwire-uds", "unary_c1", podUDS),
		res("podwire-tcp", "unary_c1", podTCP),
		res("podwire-mux-tls", "unary_c1", mux),
		res("podwire-mux-tls", "bulk", muxBulk),
		res("podwire-mux-tls", "channel_open", muxSetup),
		res("sidecar", "unary_c1", sidecar),
	}
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
			results: allRowsResults(102, 150, 210, 950, 150, 300),
			wantOK: map[string]bool{"uds_unary_p50": true, "mux_tls_unary_p50": true, "mux_tls_bulk": true,
				"channel_setup": true, "sidecar_unary_p50": true, "uds_vs_tcp_unary_p50": true},
			wantRatio: map[string]float64{"uds_unary_p50": 1.02, "mux_tls_bulk": 0.95, "channel_setup": 0.075,
				"sidecar_unary_p50": 1.5, "uds_vs_tcp_unary_p50": 0.68},
		},
		{
			name:    "all missed",
			results: allRowsResults(110, 120, 230, 800, 400, 340),
			wantOK: map[string]bool{"uds_unary_p50": false, "mux_tls_unary_p50": false, "mux_tls_bulk": false,
				"channel_setup": false, "sidecar_unary_p50": false, "uds_vs_tcp_unary_p50": false},
			wantRatio: map[string]float64{"mux_tls_bulk": 0.8, "channel_setup": 0.2},
		},
		{
			name:    "limits are inclusive",
			results: allRowsResults(103, 1000, 220, 900, 200, 320),
			wantOK: map[string]bool{"uds_unary_p50": true, "mux_tls_unary_p50": true, "mux_tls_bulk": true,
				"channel_setup": true, "sidecar_unary_p50": true},
		},
		{
			name:    "missing rows are not ok and say why",
			results: allRowsResults(100, 150, 210, 950, 150, 300)[:4],
			missing: map[string]string{"podwire-uds": "transport not built", "sidecar": "no sidecar"},
			wantOK: map[string]bool{"uds_unary_p50": false, "mux_tls_unary_p50": false, "sidecar_unary_p50": false,
				"uds_vs_tcp_unary_p50": false},
			wantMissing: map[string]string{"uds_unary_p50": "row podwire-uds missing: transport not built",
				"sidecar_unary_p50": "no sidecar", "mux_tls_unary_p50": "podwire-mux-tls/unary_c1 was not run"},
		},
		{
			name: "failed workload is not ok",
			results: func() []Result {
				rs := allRowsResults(100, 150, 210, 950, 150, 300)
				rs[7].Error = "bulk: stream reset"
				return rs
			}(),
			wantOK:      map[string]bool{"mux_tls_bulk": false, "mux_tls_unary_p50": true},
			wantMissing: map[string]string{"mux_tls_bulk": "failed: bulk: stream reset"},
		},
		{
			name: "zero denominator is not ok",
			results: func() []Result {
				rs := allRowsResults(100, 150, 210, 950, 150, 300)
				rs[0].P50US = 0
				return rs
			}(),
			wantOK:      map[string]bool{"uds_unary_p50": false},
			wantMissing: map[string]string{"uds_unary_p50": "measured zero"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evaluateTargets(tt.results, tt.missing)
			if len(got) != len(targetSpecs) {
				t.Fatalf("got %d targets, want %d", len(got), len(targetSpecs))
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

func TestTargetNamesAndLimits(t *testing.T) {
	want := []struct {
		name  string
		limit float64
		op    string
	}{
		{"uds_unary_p50", 1.03, "<="},
		{"mux_tls_unary_p50", 1.10, "<="},
		{"mux_tls_bulk", 0.90, ">="},
		{"channel_setup", 0.10, "<="},
		{"sidecar_unary_p50", 1.6, "<="},
		{"uds_vs_tcp_unary_p50", 0.85, "<="},
	}
	got := evaluateTargets(nil, nil)
	if len(got) != len(want) {
		t.Fatalf("got %d targets, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Limit != w.limit || got[i].Op != w.op {
			t.Errorf("target %d = %s %s %v, want %s %s %v", i, got[i].Name, got[i].Op, got[i].Limit, w.name, w.op, w.limit)
		}
	}
}

func TestCheckErrorNamesTargets(t *testing.T) {
	ts := evaluateTargets(allRowsResults(110, 150, 210, 950, 150, 300), map[string]string{"sidecar": "no sidecar"})
	err := error(&CheckError{Failed: failedTargets(ts)})
	msg := err.Error()
	for _, want := range []string{"2 target(s) not met", "uds_unary_p50 = 1.100 (limit <= 1.03, missed by 6.8%)", "sidecar_unary_p50: not computed (row sidecar missing: no sidecar)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("CheckError = %q, want it to contain %q", msg, want)
		}
	}
	var ce *CheckError
	if !errors.As(errors.Join(errors.New("other"), err), &ce) || len(ce.Failed) != 2 {
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
