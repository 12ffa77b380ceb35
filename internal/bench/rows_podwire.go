package bench

import (
	"context"
	"fmt"
)

// podwireRows lists the rows that run the podwire SDK. They need
// transport.Listen and transport.Dial, which are not in this build yet, so
// each row reports itself as unavailable and the report lists it as missing.
func podwireRows() []rowSpec {
	unavailable := func(context.Context, *env) (*instance, error) {
		return nil, fmt.Errorf("%w: package transport does not export Listen and Dial yet", errUnavailable)
	}
	return []rowSpec{
		{Row{ID: "podwire-uds", Transport: "uds", Family: FamilyPodwire, Twin: "grpc-uds", TCPPeer: "podwire-tcp"}, unavailable},
		{Row{ID: "podwire-tcp", Transport: "tcp", Family: FamilyPodwire, Twin: "grpc-tcp"}, unavailable},
		{Row{ID: "podwire-tls", Transport: "tls", Family: FamilyPodwire, Twin: "grpc-tls"}, unavailable},
		{Row{ID: "podwire-mux-tls", Transport: "mux+tls", Family: FamilyPodwire, Twin: "grpc-tls"}, unavailable},
	}
}
