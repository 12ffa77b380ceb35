package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"
)

// Config tunes a benchmark run. Start from DefaultConfig (full mode) or
// QuickConfig and change fields; Run calls Validate.
type Config struct {
	// Mode is "full" or "quick"; it only labels the report.
	Mode string
	// Placement is PlacementDeployed (default): every server, sidecar and
	// nginx runs in its own process, restarted every round, the clients in
	// the bench process; or PlacementInProcess: everything in this process,
	// a diagnostic that shows what the process boundary costs.
	Placement string
	// Exe is the binary re-executed for server processes; default
	// os.Executable(). It must call RunChild when ChildEnv is set.
	Exe string
	// ChildArgs are the arguments Exe gets for a server process, e.g.
	// ["bench"] for the podwire binary; default none.
	ChildArgs []string
	// SidecarArgs, when set, run a sidecar as Exe SidecarArgs... FILE, e.g.
	// ["sidecar", "--config"]; when empty a server process runs
	// sidecar.Run on the file, as `podwire sidecar --config FILE` does.
	SidecarArgs []string
	// Rounds is the number of measured rounds; default 10 (quick 7). More,
	// shorter rounds give medians that resist bursts of machine noise better
	// than few long ones.
	Rounds int
	// Warmup is the duration of each timed workload in the discarded
	// warm-up round; default 200ms (quick 20ms).
	Warmup time.Duration
	// Duration is how long each timed workload runs per row per round;
	// default 300ms (quick 60ms).
	Duration time.Duration
	// SetupCount is the number of channels the setup workload makes per
	// row per round; default 100 (quick 10).
	SetupCount int
	// IdleChannels is the number of channels idle_mem holds; default 200 (quick 20).
	IdleChannels int
	// Streams is the number of streams the streams workload holds; default 1000 (quick 100).
	Streams int
	// BulkPerCall is the number of 1 MiB messages per bulk call; default 16 (quick 8).
	BulkPerCall int
	// Rows selects rows by id (see RowIDs); empty means all.
	Rows []string
	// Workloads selects workloads by id (see WorkloadIDs); empty means all.
	Workloads []string
	// Seed seeds the per-round shuffle of rows; 0 picks one from the clock
	// (the report prints it so a run can be repeated).
	Seed int64
	// JSONPath, when set, receives the report as JSON.
	JSONPath string
	// SVGPath, when set, receives the chart as SVG.
	SVGPath string
	// PNGPath, when set, receives the same chart as PNG.
	PNGPath string
	// CPUProfile, when set, receives a CPU profile of the measured rounds.
	// Samples carry the pprof labels "row" and "workload", so
	// `go tool pprof -tagfocus row=podwire-mux-tls FILE` shows where one
	// row's time goes.
	CPUProfile string
	// Check makes Run return a *CheckError when a target misses or cannot
	// be computed.
	Check bool
	// Stdout receives the markdown report; nil discards it.
	Stdout io.Writer
	// Stderr receives progress; a terminal gets a progress bar, anything
	// else plain lines; nil discards progress.
	Stderr io.Writer
	// Logger receives debug logs of rows starting and stopping; nil discards.
	Logger *slog.Logger
}

// Placements of Config.Placement.
const (
	PlacementDeployed  = "deployed"
	PlacementInProcess = "inprocess"
)

// DefaultConfig is the full mode: about five minutes or less on two cores.
func DefaultConfig() Config {
	return Config{
		Mode:         "full",
		Rounds:       10,
		Warmup:       200 * time.Millisecond,
		Duration:     300 * time.Millisecond,
		SetupCount:   100,
		IdleChannels: 200,
		Streams:      1000,
		BulkPerCall:  16,
	}
}

// QuickConfig is the quick mode: a minute or less on two cores, every
// server and proxy in its own process restarted every round.
func QuickConfig() Config {
	return Config{
		Mode:         "quick",
		Rounds:       7,
		Warmup:       20 * time.Millisecond,
		Duration:     60 * time.Millisecond,
		SetupCount:   10,
		IdleChannels: 20,
		Streams:      100,
		BulkPerCall:  8,
	}
}

// Validate reports the first field out of range and what to set it to.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("podwire/bench: "+format, args...))
		}
	}
	check(c.Placement == "" || c.Placement == PlacementDeployed || c.Placement == PlacementInProcess,
		"placement = %q; use %q (default) or %q", c.Placement, PlacementDeployed, PlacementInProcess)
	check(c.Rounds >= 1 && c.Rounds <= 1000, "rounds = %d; use 1..1000 (3 or more gives a meaningful spread)", c.Rounds)
	check(c.Warmup >= 0, "warmup = %v; use 0 or more", c.Warmup)
	check(c.Duration >= time.Millisecond && c.Duration <= time.Minute, "duration = %v; use 1ms..1m per workload run", c.Duration)
	check(c.SetupCount >= 1 && c.SetupCount <= 100000, "setup count = %d; use 1..100000", c.SetupCount)
	check(c.IdleChannels >= 1 && c.IdleChannels <= 100000, "idle channels = %d; use 1..100000", c.IdleChannels)
	check(c.Streams >= 1 && c.Streams <= 100000, "streams = %d; use 1..100000", c.Streams)
	check(c.BulkPerCall >= 1 && c.BulkPerCall <= 1024, "bulk per call = %d; use 1..1024 messages of 1 MiB", c.BulkPerCall)
	known := RowIDs()
	for _, id := range c.Rows {
		check(slices.Contains(known, id), "unknown row %q; known rows: %v", id, known)
	}
	knownW := WorkloadIDs()
	for _, id := range c.Workloads {
		check(slices.Contains(knownW, id), "unknown workload %q; known workloads: %v", id, knownW)
	}
	return errors.Join(errs...)
}

// params returns the workload sizes for a measured round (warm=false) or
// the warm-up round (warm=true, shorter and smaller).
func (c Config) params(warm bool) params {
	p := params{
		duration:     c.Duration,
		setupCount:   c.SetupCount,
		idleChannels: c.IdleChannels,
		streams:      c.Streams,
		bulkPerCall:  uint32(c.BulkPerCall),
	}
	if warm {
		p.duration = max(c.Warmup, time.Millisecond)
		p.setupCount = max(c.SetupCount/4, 1)
		p.idleChannels = max(c.IdleChannels/4, 1)
		p.streams = max(c.Streams/4, 1)
	}
	return p
}
