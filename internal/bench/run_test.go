package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// tinyConfig runs the bare rows only, with few iterations, so the end-to-end
// test takes a few seconds even under -race.
func tinyConfig(t testing.TB) Config {
	t.Helper()
	cfg := QuickConfig()
	cfg.Rows = []string{"raw-uds", "raw-tcp", "raw-tls", "grpc-uds", "grpc-tcp", "grpc-tls"}
	cfg.Rounds = 2
	cfg.Warmup = 5 * time.Millisecond
	cfg.Duration = 20 * time.Millisecond
	cfg.SetupCount = 3
	cfg.IdleChannels = 3
	cfg.Streams = 10
	cfg.BulkPerCall = 1
	cfg.Seed = 7
	return cfg
}

func TestRunEndToEnd(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // Run's socket dir lands here; it must be gone afterwards.
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	cfg := tinyConfig(t)
	cfg.JSONPath = filepath.Join(out, "bench.json")
	cfg.SVGPath = filepath.Join(out, "bench.svg")
	cfg.Stdout, cfg.Stderr = &stdout, &stderr
	cfg.Check = true

	rep, err := Run(context.Background(), cfg)
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("Run error = %v, want a *CheckError (the podwire rows were not selected)", err)
	}
	if errors.Is(err, ErrWorkloadFailed) {
		t.Fatalf("a workload failed on a bare row: %v", err)
	}
	if len(ce.Failed) != 7 || !strings.Contains(ce.Error(), "podwire-uds/unary_c1 was not run") {
		t.Errorf("CheckError = %v, want all 7 targets that are not diagnostics named as not computed", ce)
	}
	if rep == nil {
		t.Fatal("Run returned no report alongside the check error")
	}

	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("Run left %d entries in its temp dir (first %s), want none", len(entries), entries[0].Name())
	}
	if !strings.Contains(stdout.String(), "# podwire bench") || !strings.Contains(stdout.String(), "## bulk") {
		t.Errorf("stdout lacks the markdown report:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "bench: [1/") || !strings.Contains(stderr.String(), "bench: done") {
		t.Errorf("stderr lacks plain progress lines:\n%s", stderr.String())
	}
	svg, err := os.ReadFile(cfg.SVGPath)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("SVG file: err %v, %d bytes, want an SVG document", err, len(svg))
	}
	checkJSONFile(t, cfg.JSONPath, cfg)
}

// checkJSONFile asserts the JSON report has every applicable row and
// workload with sane figures.
func checkJSONFile(t *testing.T, path string, cfg Config) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read JSON: %v", err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	if rep.Machine.CPUs != runtime.NumCPU() || rep.Machine.GoVersion != runtime.Version() || rep.Machine.OS != runtime.GOOS {
		t.Errorf("machine = %+v, want cpus %d, %s, %s", rep.Machine, runtime.NumCPU(), runtime.Version(), runtime.GOOS)
	}
	if rep.Method.Seed != cfg.Seed || rep.Method.Rounds != cfg.Rounds {
		t.Errorf("method = %+v, want seed %d and %d rounds", rep.Method, cfg.Seed, cfg.Rounds)
	}
	byID := map[string]Result{}
	for _, r := range rep.Rows {
		byID[r.ID] = r
	}
	for _, row := range selectRows(cfg.Rows) {
		for _, w := range allWorkloads() {
			if !w.appliesTo(row.Row) {
				continue
			}
			id := row.ID + "/" + w.ID
			r, ok := byID[id]
			if !ok {
				t.Errorf("JSON lacks %s", id)
				continue
			}
			checkFigures(t, r, w.kind, cfg.Rounds)
		}
	}
	if r := byID["grpc-uds/unary_c1"]; r.UDSvsTCP == nil || *r.UDSvsTCP <= 0 {
		t.Errorf("grpc-uds/unary_c1 uds_vs_tcp = %v, want a positive ratio", r.UDSvsTCP)
	}
}

func checkFigures(t *testing.T, r Result, k kind, rounds int) {
	t.Helper()
	if r.Error != "" || r.Rounds != rounds || r.Spread < 0 || r.Transport == "" {
		t.Errorf("%s: error %q, rounds %d (want %d), spread %v, transport %q", r.ID, r.Error, r.Rounds, rounds, r.Spread, r.Transport)
	}
	switch k {
	case kindLatency:
		if !(r.P50US > 0 && r.P50US <= r.P90US && r.P90US <= r.P99US && r.P99US <= r.P999US) || r.RPS <= 0 {
			t.Errorf("%s: percentiles %v/%v/%v/%v µs and %v ops/s, want positive and ordered",
				r.ID, r.P50US, r.P90US, r.P99US, r.P999US, r.RPS)
		}
	case kindThroughput:
		if r.RPS <= 0 || r.P50US <= 0 {
			t.Errorf("%s: %v RPC/s, p50 %v µs, want positive", r.ID, r.RPS, r.P50US)
		}
	case kindBulk:
		if r.MiBS <= 0 {
			t.Errorf("%s: %v MiB/s, want positive", r.ID, r.MiBS)
		}
	case kindMemory:
		if r.HeapBytesPerUnit <= 0 || r.GoroutinesPerUnit <= 0 {
			t.Errorf("%s: heap %v B/unit, %v goroutines/unit, want positive", r.ID, r.HeapBytesPerUnit, r.GoroutinesPerUnit)
		}
	}
	if k != kindMemory && (r.AllocsOp == nil || r.BytesOp == nil) {
		t.Errorf("%s: allocs_op/bytes_op missing", r.ID)
	}
}

func TestRunInterrupted(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Rows = []string{"grpc-uds"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("Run(canceled ctx) = %v, want context.Canceled", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"zero rounds", func(c *Config) { c.Rounds = 0 }, "rounds = 0"},
		{"tiny duration", func(c *Config) { c.Duration = time.Microsecond }, "duration = 1µs"},
		{"unknown row", func(c *Config) { c.Rows = []string{"carrier-pigeon"} }, `unknown row "carrier-pigeon"`},
		{"unknown workload", func(c *Config) { c.Workloads = []string{"fax"} }, `unknown workload "fax"`},
		{"bulk too big", func(c *Config) { c.BulkPerCall = 5000 }, "bulk per call = 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if err := QuickConfig().Validate(); err != nil {
		t.Errorf("QuickConfig().Validate() = %v, want nil", err)
	}
}
