// Package bench is the engine behind `podwire bench`: it starts every
// transport path in one process (raw sockets, bare grpc-go, the podwire SDK,
// podwire over mux+TLS and, when available, the sidecar pair), drives the same
// workloads through each of them in interleaved rounds, and reports medians,
// spreads and ratios against the bare grpc-go twin of each row.
//
// The method, in short:
//   - every row is set up once and warmed up with a short, discarded round;
//   - in each measured round every workload runs once on every row, the rows
//     in a freshly shuffled order, so slow drift of the machine (other
//     processes, thermal state) spreads over all rows instead of biasing one;
//   - a figure in the report is the median of its per-round values, and the
//     spread column is the interquartile range ÷ median of the headline figure
//     across rounds;
//   - latencies come from HDR histograms (1 ns .. 1 min, 3 significant
//     digits); allocs/op and bytes/op are runtime.MemStats deltas over the
//     run divided by operations, and count both ends because client and
//     server share the process.
//
// Run is the entry point; Config, DefaultConfig and QuickConfig tune it.
package bench
