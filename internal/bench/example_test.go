package bench_test

import (
	"fmt"

	"github.com/podwire/podwire/internal/bench"
)

// A run is configured from one of the two modes; Validate names a bad field
// and what to set it to before anything starts.
func ExampleConfig_Validate() {
	cfg := bench.QuickConfig()
	cfg.Rows = []string{"grpc-uds", "podwire-uds"}
	fmt.Println(cfg.Validate())

	cfg.Rounds = 0
	fmt.Println(cfg.Validate())
	// Output:
	// <nil>
	// podwire/bench: rounds = 0; use 1..1000 (3 or more gives a meaningful spread)
}
