package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// write prints the summary as an aligned table.
func (s *summary) write(w io.Writer, dir string, concurrency int) {
	fmt.Fprintf(w, "podwire demo: %d orders, %d at a time, inventory and purchase as two processes on Unix sockets in %s\n\n", s.orders, concurrency, dir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  orders placed\t%d confirmed, one reservation each\n", s.placed)
	nrej := 0
	for _, n := range s.rejected {
		nrej += n
	}
	fmt.Fprintf(tw, "  orders rejected\t%d (%d as planned)\n", nrej, s.rejectedConfirmed)
	reasons := make([]reason, 0, len(s.rejected))
	for r := range s.rejected {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if reasons[i].code != reasons[j].code {
			return reasons[i].code.String() < reasons[j].code.String()
		}
		return reasons[i].field < reasons[j].field
	})
	for _, r := range reasons {
		fmt.Fprintf(tw, "    %s %s\t%d\n", r.code, r.field, s.rejected[r])
	}
	fmt.Fprintf(tw, "  retried without duplicates\t%d of %d (3 calls, one key: 1 order, 1 reservation)\n", s.retryOK, s.retried)
	fmt.Fprintf(tw, "  purchase → inventory\t%s\n", s.transportLine())
	fmt.Fprintf(tw, "  PlaceOrder latency\tp50 %s  p99 %s  (%d calls in %s)\n", ms(s.p50), ms(s.p99), s.latencyCalls, s.elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "  stock\t%d SKUs moved by exactly the placed orders\n", s.skus)
	result := "PASS"
	if len(s.problems) > 0 {
		result = fmt.Sprintf("FAIL (%d problems)", len(s.problems))
	}
	fmt.Fprintf(tw, "  invariants\t%s\n", result)
	_ = tw.Flush()
	for _, p := range s.problems {
		fmt.Fprintf(w, "  FAIL: %s\n", p)
	}
}

// transportLine says which transports carried the placed orders.
func (s *summary) transportLine() string {
	if len(s.transports) == 0 {
		return "none"
	}
	var parts []string
	for tr, n := range s.transports {
		parts = append(parts, fmt.Sprintf("%s (%d of %d orders)", tr, n, s.placed))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
