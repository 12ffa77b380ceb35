package bench

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoRows is returned when the row filter selects nothing runnable.
var ErrNoRows = errors.New("podwire/bench: no rows selected; run `podwire bench -h` for the row ids, or drop --rows")

// ErrNoWorkloads is returned when the workload filter selects nothing.
var ErrNoWorkloads = errors.New("podwire/bench: no workloads selected; run `podwire bench -h` for the workload ids, or drop --workloads")

// ErrWorkloadFailed marks a run in which at least one workload failed on a
// row; the report still lists everything that did run.
var ErrWorkloadFailed = errors.New("podwire/bench: a workload failed")

// CheckError is returned by Run when Config.Check is set and a target is
// missed or cannot be computed because a row is missing.
type CheckError struct {
	// Failed holds the targets that missed or could not be computed.
	Failed []TargetResult
}

// Error names each failed target with its ratio and limit, or why it is missing.
func (e *CheckError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for _, t := range e.Failed {
		parts = append(parts, t.describe())
	}
	return fmt.Sprintf("podwire/bench: %d target(s) not met: %s; the table above shows the figures behind each ratio",
		len(e.Failed), strings.Join(parts, "; "))
}

// RunError collects workload failures so one bad row does not hide the rest.
type RunError struct {
	// Failures maps "row/workload" to the error that stopped it.
	Failures []string
}

// Error lists the failed row/workload pairs.
func (e *RunError) Error() string {
	return fmt.Sprintf("podwire/bench: %d workload run(s) failed: %s; rerun with --rows to isolate the row",
		len(e.Failures), strings.Join(e.Failures, "; "))
}

// Unwrap lets errors.Is(err, ErrWorkloadFailed) match.
func (e *RunError) Unwrap() error { return ErrWorkloadFailed }
