package bench

import (
	"context"
	"fmt"
)

// sidecarRows lists the sidecar-pair row: app → sidecar → mux/TLS → sidecar
// → app. Package sidecar exports no way to run a sidecar in-process in this
// build, so the row reports itself as unavailable and the report lists it as
// missing.
func sidecarRows() []rowSpec {
	return []rowSpec{
		{Row{ID: "sidecar", Transport: "sidecar", Family: FamilySidecar, Twin: "grpc-tls"},
			func(context.Context, *env) (*instance, error) {
				return nil, fmt.Errorf("%w: package sidecar exports no in-process sidecar yet", errUnavailable)
			}},
	}
}
