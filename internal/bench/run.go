package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"time"
)

// Run starts the selected rows, runs the warm-up round and cfg.Rounds
// measured rounds, writes the markdown report to cfg.Stdout (and JSON/SVG
// files when asked) and returns the report. Every round starts every row
// afresh (its server processes too, as deployed) and stops it at the end
// of the round, so one unlucky process or connection state is one round's
// sample, not the whole run's. Everything it starts (processes, servers,
// sockets in a private temp dir, goroutines) is stopped before it returns.
// The error is a *RunError when a workload failed on some row and a
// *CheckError when cfg.Check is set and a target is missed; the report is
// complete in both cases.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Placement == "" {
		cfg.Placement = PlacementDeployed
	}
	logger := cfg.Logger
	if logger == nil {
		logger = discardLogger()
	}
	specs, wls := selectRows(cfg.Rows), selectWorkloads(cfg.Workloads)
	if len(specs) == 0 {
		return nil, ErrNoRows
	}
	if len(wls) == 0 {
		return nil, ErrNoWorkloads
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	launch, err := newLauncher(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	load0 := readLoadAvg()
	dir, err := os.MkdirTemp("", "podwire-bench-")
	if err != nil {
		return nil, fmt.Errorf("podwire/bench: temp dir for sockets: %w; set TMPDIR to a writable directory", err)
	}
	defer os.RemoveAll(dir)
	pk, err := newPKI(dir)
	if err != nil {
		return nil, fmt.Errorf("podwire/bench: make test certificates: %w", err)
	}
	e := &env{pki: pk, logger: logger, placement: cfg.Placement, launch: launch}
	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		return nil, err
	}
	rs := &roundState{cfg: cfg, e: e, base: dir, wls: wls, rng: rand.New(rand.NewPCG(uint64(seed), 0)),
		samples: make(map[key][]sample), failures: make(map[key]error)}
	err = rs.run(ctx, specs)
	if perr := stopProfile(); err == nil && perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, err
	}
	rep := buildReport(cfg, rs.rows, rs.missing, wls, rs.samples, rs.failures)
	rep.Method.Seed = seed
	rep.Method.ElapsedS = time.Since(start).Seconds()
	rep.Machine = readMachine(start)
	rep.Machine.LoadAvgStart, rep.Machine.LoadAvgEnd = load0, readLoadAvg()
	rep.Processes = rs.procs
	return rep, finish(cfg, rep, rs.failures)
}

// newLauncher resolves how server processes are started.
func newLauncher(cfg Config) (launcher, error) {
	l := launcher{exe: cfg.Exe, childArgs: cfg.ChildArgs, sidecarArgs: cfg.SidecarArgs}
	if l.exe == "" && cfg.Placement == PlacementDeployed {
		exe, err := os.Executable()
		if err != nil {
			return l, fmt.Errorf("podwire/bench: find this binary to run servers in their own processes: %w; use --placement inprocess", err)
		}
		l.exe = exe
	}
	return l, nil
}

// selectRows returns the rows named in ids (all when empty), in report order.
func selectRows(ids []string) []rowSpec {
	var out []rowSpec
	for _, s := range allRows() {
		if len(ids) == 0 || slices.Contains(ids, s.ID) {
			out = append(out, s)
		}
	}
	return out
}

// selectWorkloads returns the workloads named in ids (all when empty), in report order.
func selectWorkloads(ids []string) []workload {
	var out []workload
	for _, w := range allWorkloads() {
		if len(ids) == 0 || slices.Contains(ids, w.ID) {
			out = append(out, w)
		}
	}
	return out
}

// startRows starts every spec; a row that cannot start is missing, with the reason.
func startRows(ctx context.Context, e *env, specs []rowSpec) ([]*instance, []MissingRow) {
	var live []*instance
	var missing []MissingRow
	for _, s := range specs {
		var in *instance
		var err error
		// Goroutines the row starts (servers, connection readers and
		// writers) inherit the label, so a CPU profile attributes them.
		pprof.Do(ctx, pprof.Labels("row", s.ID), func(ctx context.Context) {
			in, err = s.start(ctx, e)
		})
		if err != nil {
			e.logger.Debug("bench row unavailable", "row", s.ID, "err", err)
			missing = append(missing, MissingRow{ID: s.ID, Reason: err.Error()})
			continue
		}
		in.row = s.Row
		e.logger.Debug("bench row started", "row", s.ID)
		live = append(live, in)
	}
	return live, missing
}

func closeRows(live []*instance, logger *slog.Logger) {
	for _, in := range live {
		if err := in.close(); err != nil {
			logger.Warn("bench row close", "row", in.row.ID, "err", err)
		}
	}
}

type key struct{ row, workload string }

// roundState carries a run across its rounds.
type roundState struct {
	cfg  Config
	e    *env
	base string
	wls  []workload
	rng  *rand.Rand

	rows     []Row        // rows that started in the warm-up round, report order
	missing  []MissingRow // rows that did not
	procs    []ProcessInfo
	samples  map[key][]sample
	failures map[key]error
}

// run runs the warm-up round (index 0, discarded) and the measured rounds.
// Each round starts its rows in a fresh directory, runs each workload once
// on every row, the rows in a new shuffled order, and stops them. A row
// that does not start in the warm-up round is missing; one that fails to
// start later fails its workloads. A workload that fails on a row is not
// retried there.
func (rs *roundState) run(ctx context.Context, specs []rowSpec) error {
	total := 0
	for _, w := range rs.wls {
		for _, s := range specs {
			if w.appliesTo(s.Row) {
				total += rs.cfg.Rounds + 1
			}
		}
	}
	prog := newProgress(rs.cfg.Stderr, total)
	defer prog.done()
	active := specs
	for round := 0; round <= rs.cfg.Rounds; round++ {
		rs.e.dir = filepath.Join(rs.base, fmt.Sprintf("r%d", round))
		if err := os.Mkdir(rs.e.dir, 0o700); err != nil {
			return fmt.Errorf("podwire/bench: round dir: %w", err)
		}
		live, missing := startRows(ctx, rs.e, active)
		if ctx.Err() != nil {
			closeRows(live, rs.e.logger)
			return fmt.Errorf("podwire/bench: interrupted while starting rows: %w", ctx.Err())
		}
		rs.noteStarted(round, live, missing)
		if round == 0 {
			active = slices.DeleteFunc(slices.Clone(active), func(s rowSpec) bool {
				return slices.ContainsFunc(missing, func(m MissingRow) bool { return m.ID == s.ID })
			})
			if len(active) == 0 {
				return fmt.Errorf("podwire/bench: every selected row failed to start (%v); run with --verbose for details", missing)
			}
		}
		err := rs.runRound(ctx, round, live, prog)
		closeRows(live, rs.e.logger)
		if err != nil {
			return err
		}
	}
	return nil
}

// noteStarted records which rows run (warm-up round), start failures of
// later rounds, and the processes of the first measured round.
func (rs *roundState) noteStarted(round int, live []*instance, missing []MissingRow) {
	if round == 0 {
		rs.missing = missing
		for _, in := range live {
			rs.rows = append(rs.rows, in.row)
		}
		return
	}
	for _, m := range missing {
		for _, w := range rs.wls {
			k := key{m.ID, w.ID}
			if rs.failures[k] == nil {
				rs.failures[k] = fmt.Errorf("round %d: row did not start: %s", round, m.Reason)
			}
		}
	}
	if round == 1 {
		rs.procs = processInfos(live)
	}
}

// runRound runs every workload once on every live row, rows shuffled.
func (rs *roundState) runRound(ctx context.Context, round int, live []*instance, prog progress) error {
	warm := round == 0
	p := rs.cfg.params(warm)
	label := fmt.Sprintf("round %d/%d", round, rs.cfg.Rounds)
	if warm {
		label = "warm-up"
	}
	order := slices.Clone(live)
	for _, w := range rs.wls {
		rs.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, in := range order {
			if !w.appliesTo(in.row) {
				continue
			}
			k := key{in.row.ID, w.ID}
			prog.step(fmt.Sprintf("%s %s %s", label, w.ID, in.row.ID))
			if rs.failures[k] != nil {
				continue
			}
			s, err := runOne(ctx, w, in, p)
			if ctx.Err() != nil {
				return fmt.Errorf("podwire/bench: interrupted during %s %s: %w", w.ID, in.row.ID, ctx.Err())
			}
			if err != nil {
				rs.failures[k] = err
				continue
			}
			if !warm {
				rs.samples[k] = append(rs.samples[k], s)
			}
		}
	}
	return nil
}

// runOne runs w on in under a deadline generous enough for any sane
// machine, with pprof labels naming the row and workload.
func runOne(ctx context.Context, w workload, in *instance, p params) (s sample, err error) {
	ctx, cancel := context.WithTimeout(ctx, 20*p.duration+2*time.Minute)
	defer cancel()
	measureCost := w.kind != kindMemory
	var before costSnapshot
	if measureCost {
		before = takeCost(ctx, in)
	}
	pprof.Do(ctx, pprof.Labels("row", in.row.ID, "workload", w.ID), func(ctx context.Context) {
		s, err = w.run(ctx, in, p)
	})
	if measureCost && err == nil {
		s.cost = takeCost(ctx, in).perOp(before, s.Ops)
	}
	return s, err
}

// startCPUProfile starts a CPU profile into path ("" does nothing) and
// returns the function that stops it and closes the file.
func startCPUProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("podwire/bench: create CPU profile %s: %w; check the directory is writable", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("podwire/bench: start CPU profile: %w", err), f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// buildReport aggregates the samples into results, ratios and targets.
func buildReport(cfg Config, live []Row, missing []MissingRow, wls []workload,
	samples map[key][]sample, failures map[key]error) *Report {
	rows := make(map[string]Row, len(live))
	for _, s := range allRows() {
		rows[s.ID] = s.Row
	}
	var results []Result
	for _, row := range live {
		for _, w := range wls {
			if !w.appliesTo(row) {
				continue
			}
			k := key{row.ID, w.ID}
			res := aggregate(row, w, samples[k])
			if err := failures[k]; err != nil {
				res = Result{ID: res.ID, Row: res.Row, Family: res.Family, Transport: res.Transport,
					Workload: res.Workload, kind: res.kind, Error: err.Error()}
			}
			results = append(results, res)
		}
	}
	fillRatios(results, rows)
	why := make(map[string]string, len(missing))
	for _, m := range missing {
		why[m.ID] = m.Reason
	}
	rep := &Report{
		Method: Method{Mode: cfg.Mode, Placement: cfg.Placement, Rounds: cfg.Rounds, WarmupMS: ms(cfg.Warmup), DurationMS: ms(cfg.Duration),
			SetupCount: cfg.SetupCount, IdleChannels: cfg.IdleChannels, Streams: cfg.Streams, BulkPerCall: cfg.BulkPerCall},
		Rows:        results,
		MissingRows: missing,
		Targets:     evaluateTargets(targetsFor(cfg.Placement), results, why),
	}
	if rep.MissingRows == nil {
		rep.MissingRows = []MissingRow{}
	}
	for _, w := range wls {
		rep.Workloads = append(rep.Workloads, WorkloadInfo{ID: w.ID, Title: w.Title, Headline: headlineName(w.kind)})
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// finish writes the outputs and turns failures and missed targets into the error.
func finish(cfg Config, rep *Report, failures map[key]error) error {
	var errs []error
	if cfg.Stdout != nil {
		errs = append(errs, rep.WriteMarkdown(cfg.Stdout))
	}
	if cfg.JSONPath != "" {
		errs = append(errs, writeFile(cfg.JSONPath, rep.WriteJSON))
	}
	if cfg.SVGPath != "" {
		errs = append(errs, writeFile(cfg.SVGPath, rep.WriteSVG))
	}
	if cfg.PNGPath != "" {
		errs = append(errs, writeFile(cfg.PNGPath, rep.WritePNG))
	}
	if len(failures) > 0 {
		re := &RunError{}
		for _, r := range rep.Rows {
			if r.Error != "" {
				re.Failures = append(re.Failures, r.ID+": "+r.Error)
			}
		}
		errs = append(errs, re)
	}
	if cfg.Check {
		if failed := failedTargets(rep.Targets); len(failed) > 0 {
			errs = append(errs, &CheckError{Failed: failed})
		}
	}
	return errors.Join(errs...)
}
