package main

import (
	"context"
	"io"

	"github.com/podwire/podwire/sidecar"
)

// runSidecar runs the pod sidecar: podwire sidecar --config FILE.
func runSidecar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("sidecar", "podwire sidecar --config FILE [flags]", `
Runs the pod sidecar: for each upstream in the config it listens on
<socket dir>/<name>.sock and carries each connection as a stream over one
mTLS mux session to the upstream's sidecar; it accepts such sessions on
listen (default :15443) and connects them to the local app's socket.`, stdout, stderr)
	f.envNote = `Other environment: the config keys are overridden by PODWIRE_<KEY> as listed in
deploy/k8s/sidecar.yaml (PODWIRE_LISTEN, PODWIRE_ADMIN, PODWIRE_TLS_CERT, ...),
PODWIRE_SOCKET_DIR and PODWIRE_PEER_<NAME> as in the SDK. Only the sidecar reads them.`
	path := f.String("config", "", "sidecar YAML config; keys are documented in deploy/k8s/sidecar.yaml")
	if err := f.Set("log-format", "json"); err != nil {
		return err
	}
	f.Lookup("log-format").DefValue = "json"
	if _, err := f.parse(args); err != nil {
		return err
	}
	cfg, err := sidecar.LoadConfig(*path, nil)
	if err != nil {
		return err
	}
	return sidecar.Run(ctx, cfg, sidecar.WithLogger(f.log))
}
