package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// sampleReport is a small synthetic report: two rows, two workloads, one
// failure, one missing row.
func sampleReport() *Report {
	a1, b1 := 158.0, 9744.0
	a2, b2 := 0.0, 0.0
	twin := 1.02
	ut := 0.52
	rows := []Result{
		{ID: "grpc-uds/unary_c1", Row: "grpc-uds", Family: FamilyGRPC, Transport: "uds", Workload: "unary_c1",
			P50US: 28.8, P90US: 51.2, P999US: 1321, P99US: 170.9, RPS: 23904, AllocsOp: &a1, BytesOp: &b1,
			Spread: 0.55, Rounds: 3, UDSvsTCP: &ut, kind: kindLatency},
		{ID: "podwire-uds/unary_c1", Row: "podwire-uds", Family: FamilyPodwire, Transport: "uds", Workload: "unary_c1",
			P50US: 29.4, P90US: 52, P99US: 171, P999US: 1400, RPS: 23000, AllocsOp: &a1, BytesOp: &b1,
			Spread: 0.1, Rounds: 3, VsTwin: &twin, kind: kindLatency},
		{ID: "raw-tcp/pingpong", Row: "raw-tcp", Family: FamilyRaw, Transport: "tcp", Workload: "pingpong",
			P50US: 18.8, RPS: 48226, AllocsOp: &a2, BytesOp: &b2, Rounds: 3, kind: kindLatency},
		{ID: "grpc-tls/bulk", Row: "grpc-tls", Family: FamilyGRPC, Transport: "tls", Workload: "bulk",
			Error: "bulk receive: connection | reset", kind: kindBulk},
	}
	rep := &Report{
		Machine:     Machine{CPUs: 2, CPUModel: "Test CPU", GOMAXPROCS: 2, GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", Date: "2026-11-21T00:00:00Z"},
		Method:      Method{Mode: "quick", Rounds: 3, WarmupMS: 50, DurationMS: 120, SetupCount: 20, IdleChannels: 40, Streams: 200, BulkPerCall: 8, Seed: 42, ElapsedS: 9},
		Rows:        rows,
		MissingRows: []MissingRow{{ID: "sidecar", Reason: "not available in this build: no sidecar"}},
	}
	rep.Targets = evaluateTargets(deployedTargets, rows, map[string]string{"sidecar": "not available in this build: no sidecar"})
	return rep
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteMarkdown(&buf); err != nil {
		t.Fatalf("WriteMarkdown: %v", err)
	}
	got := buf.String()
	wantLines := []string{
		"# podwire bench",
		"- machine: Test CPU, 2 CPUs, GOMAXPROCS 2, go1.26.8 linux/amd64",
		"(seed 42)",
		"- missing row sidecar: not available in this build: no sidecar",
		"## unary_c1: unary 64 B, 1 caller",
		"| row | transport | p50 µs | p90 µs | p99 µs | p99.9 µs | ops/s | allocs/op | B/op | spread | ÷ twin | UDS÷TCP |",
		"| grpc-uds | uds | 28.8 | 51.2 | 170.9 | 1321 | 23904 | 158.0 | 9744 | 55% | — | 0.52 |",
		"| podwire-uds | uds | 29.4 | 52.0 | 171.0 | 1400 | 23000 | 158.0 | 9744 | 10% | 1.02 | — |",
		// A measured zero count prints as 0; unmeasured figures as —.
		"| raw-tcp | tcp | 18.8 | — | — | — | 48226 | 0 | 0 | 0% | — | — |",
		"## bulk: server-stream bulk, 1 MiB messages",
		// Pipes in an error must not break the table.
		"| grpc-tls | tls | failed: bulk receive: connection / reset |",
		"## targets",
		"| uds_unary_p50 (podwire-uds ÷ grpc-uds, unary_c1) | 1.02 | <= 1.00 | missed by 2.1% |",
		"| sidecar_unary_p50 (sidecar ÷ grpc-tls, unary_c1) | — | <= 1.80 | not computed: row sidecar missing: not available in this build: no sidecar |",
	}
	for _, w := range wantLines {
		if !strings.Contains(got, w) {
			t.Errorf("markdown lacks %q; got:\n%s", w, got)
		}
	}
	if strings.Contains(got, "## setup") {
		t.Errorf("markdown has a table for a workload with no rows:\n%s", got)
	}
	// Every table row has as many cells as its header.
	var header int
	for _, line := range strings.Split(got, "\n") {
		if !strings.HasPrefix(line, "|") {
			header = 0
			continue
		}
		n := len(strings.Split(line, "|")) - 2
		if header == 0 {
			header = n
			continue
		}
		if strings.HasPrefix(line, "|-") {
			continue
		}
		if n != header {
			t.Errorf("row has %d cells, header %d: %q", n, header, line)
		}
	}
}

func TestFormatFigure(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "—"}, {1.234, "1.23"}, {12.34, "12.3"}, {1234.5, "1234"}, {-5, "-5.00"},
	}
	for _, tt := range tests {
		if got := formatFigure(tt.in); got != tt.want {
			t.Errorf("formatFigure(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriteJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("report JSON does not parse: %v\n%s", err, buf.String())
	}
	machine := doc["machine"].(map[string]any)
	for _, k := range []string{"cpus", "go_version", "os"} {
		if _, ok := machine[k]; !ok {
			t.Errorf("machine lacks %q: %v", k, machine)
		}
	}
	rows := doc["rows"].([]any)
	if len(rows) != 4 {
		t.Fatalf("got %d rows, want 4", len(rows))
	}
	first := rows[0].(map[string]any)
	for _, k := range []string{"id", "transport", "workload", "p50_us", "p90_us", "p99_us", "p999_us", "rps", "allocs_op", "bytes_op", "spread"} {
		if _, ok := first[k]; !ok {
			t.Errorf("row %v lacks %q", first["id"], k)
		}
	}
	if _, ok := first["mib_s"]; ok {
		t.Errorf("unary row has mib_s, which does not apply: %v", first)
	}
	raw := rows[2].(map[string]any)
	if raw["allocs_op"] != 0.0 {
		t.Errorf("raw row allocs_op = %v, want a present 0", raw["allocs_op"])
	}
	targets := doc["targets"].([]any)
	if len(targets) != len(deployedTargets) {
		t.Fatalf("got %d targets, want %d", len(targets), len(deployedTargets))
	}
	for i, tv := range targets {
		tm := tv.(map[string]any)
		for _, k := range []string{"name", "ratio", "limit", "ok"} {
			if _, ok := tm[k]; !ok {
				t.Errorf("target %d lacks %q: %v", i, k, tm)
			}
		}
		if tm["name"] != deployedTargets[i].name {
			t.Errorf("target %d name = %v, want %s", i, tm["name"], deployedTargets[i].name)
		}
	}
	if r, ok := targets[3].(map[string]any)["ratio"].(float64); !ok || abs(r-29.4/28.8) > 1e-9 {
		t.Errorf("uds_unary_p50 ratio = %v, want 29.4/28.8", r)
	}
	if r := targets[2].(map[string]any)["ratio"]; r != nil {
		t.Errorf("sidecar_unary_p50 ratio = %v, want null (row missing)", r)
	}
}

func TestWriteSVG(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteSVG(&buf); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	got := buf.String()
	for _, want := range []string{"<svg", "unary 64 B, 1 caller: latency", "grpc-uds", "podwire-uds", "p99.9"} {
		if !strings.Contains(got, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	buf.Reset()
	if err := sampleReport().WritePNG(&buf); err != nil {
		t.Fatalf("WritePNG: %v", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\x89PNG\r\n")) {
		t.Errorf("WritePNG wrote %d bytes without the PNG signature", buf.Len())
	}
	if err := (&Report{}).WriteSVG(&buf); err == nil {
		t.Errorf("WriteSVG of an empty report = nil error, want one saying there is nothing to chart")
	}
}
