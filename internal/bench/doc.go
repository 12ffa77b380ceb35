// Package bench is the engine behind `podwire bench`: it runs every
// transport path (raw sockets, bare grpc-go, the podwire SDK, podwire over
// mux+TLS, the sidecar pair and, when nginx with its stream module is
// installed, an nginx pair doing the sidecar pair's job), drives the same
// workloads through each of them in interleaved rounds, and reports
// medians, spreads, ratios against the bare grpc-go twin of each row, and
// where the time goes (thread wake-ups, goroutine runs and CPU per op).
//
// The method, in short:
//   - placement: as deployed (the default) every server, each sidecar and
//     each nginx runs in its own OS process (this binary re-executed with
//     ChildEnv set, `podwire sidecar --config FILE`, nginx -c FILE); the
//     clients run in the bench process. PlacementInProcess keeps everything
//     in one process as a diagnostic of what the process boundary costs;
//   - every round starts every row afresh (its processes and connections)
//     in a new directory and stops it at the end, so one unlucky process or
//     connection state is one round's sample, not the whole run's; the
//     first round is a discarded warm-up;
//   - in each round every workload runs once on every row, the rows in a
//     freshly shuffled order, so slow drift of the machine spreads over all
//     rows instead of biasing one;
//   - a figure in the report is the median of its per-round values, and the
//     spread column is the interquartile range ÷ median of the headline
//     figure across rounds;
//   - latencies come from HDR histograms (1 ns .. 1 min, 3 significant
//     digits); allocs/op and bytes/op are runtime.MemStats deltas of the
//     bench process (both ends only in process);
//   - per op costs come from /proc/<pid>/task/*/{status,schedstat} of the
//     bench process and the row's server processes (voluntary context
//     switches = wake-ups, CPU time) and from runtime/metrics of each Go
//     process (goroutine runs).
//
// Run is the entry point; Config, DefaultConfig and QuickConfig tune it;
// RunChild is what a re-executed server process runs.
package bench
