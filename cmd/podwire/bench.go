package main

import (
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"time"

	"github.com/podwire/podwire/internal/bench"
)

// runBench parses the bench flags (env PODWIRE_BENCH_<FLAG>, dashes as
// underscores) and runs internal/bench.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if spec, ok := bench.ChildSpec(); ok {
		// A server process of a deployed run: the bench re-executed this binary.
		return bench.RunChild(ctx, spec, os.Stdin, stdout)
	}
	fs := newFlags("bench", "podwire bench [flags]", `
Compares raw sockets, bare grpc-go and podwire (UDS, TCP, TLS, mux+TLS,
sidecar pair) and an nginx stream pair in one interleaved run, every server
and proxy in its own process (as deployed) unless --placement inprocess.`, stdout, stderr)
	placement := fs.String("placement", bench.PlacementDeployed, "deployed: every server, sidecar and nginx in its own process, restarted every round; inprocess: all in this process (a diagnostic)")
	quick := fs.Bool("quick", false, "quick mode: 60 s or less on 2 cores (default: full mode, about 5 min)")
	rounds := fs.Int("rounds", 0, "measured rounds (default 10, quick 7)")
	duration := fs.Duration("duration", 0, "time each timed workload runs per row per round (default 300ms, quick 60ms)")
	warmup := fs.Duration("warmup", 0, "time each timed workload runs in the warm-up round (default 200ms, quick 20ms)")
	setupCount := fs.Int("setup-count", 0, "channels the setup workload makes per row per round (default 100, quick 10)")
	idle := fs.Int("idle-channels", 0, "channels idle_mem holds open (default 200, quick 20)")
	streams := fs.Int("streams", 0, "streams the streams workload holds open (default 1000, quick 100)")
	rows := fs.String("rows", "", "comma-separated row ids to run (default all): "+strings.Join(bench.RowIDs(), ","))
	workloads := fs.String("workloads", "", "comma-separated workload ids to run (default all): "+strings.Join(bench.WorkloadIDs(), ","))
	seed := fs.Int64("seed", 0, "seed of the per-round row shuffle (default: from the clock; the report prints it)")
	jsonPath := fs.String("json", "", "also write the report as JSON to this file")
	svgPath := fs.String("svg", "", "also write a chart (latency percentiles, throughput, setup per transport) as SVG to this file")
	pngPath := fs.String("png", "", "also write the same chart as PNG to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured rounds to this file (samples labelled row=, workload=; use go tool pprof -tagfocus)")
	check := fs.Bool("check", false, "exit non-zero when a target ratio is missed or a row it needs is missing")
	verbose := fs.Bool("verbose", false, "log rows starting and stopping to stderr (at debug level unless --log-level is set)")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	cfg := bench.DefaultConfig()
	if *quick {
		cfg = bench.QuickConfig()
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	setInt := func(name string, dst *int, v int) {
		if set[name] {
			*dst = v
		}
	}
	setDur := func(name string, dst *time.Duration, v time.Duration) {
		if set[name] {
			*dst = v
		}
	}
	setInt("rounds", &cfg.Rounds, *rounds)
	setInt("setup-count", &cfg.SetupCount, *setupCount)
	setInt("idle-channels", &cfg.IdleChannels, *idle)
	setInt("streams", &cfg.Streams, *streams)
	setDur("duration", &cfg.Duration, *duration)
	setDur("warmup", &cfg.Warmup, *warmup)
	cfg.Rows, cfg.Workloads = splitList(*rows), splitList(*workloads)
	cfg.Seed, cfg.JSONPath, cfg.SVGPath, cfg.PNGPath, cfg.Check = *seed, *jsonPath, *svgPath, *pngPath, *check
	cfg.CPUProfile = *cpuProfile
	cfg.Placement = *placement
	cfg.ChildArgs = []string{"bench"}
	cfg.SidecarArgs = []string{"sidecar", "--log-format", "text", "--log-level", "warn", "--config"}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	if *verbose {
		cfg.Logger = fs.log
		if !fs.set("log-level") {
			cfg.Logger, _ = newLogger(stderr, "debug", fs.logFormat)
		}
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%s", cliMessage(err))
	}
	_, err := bench.Run(ctx, cfg)
	return err
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
