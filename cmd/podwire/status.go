package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/podwire/podwire/internal/statusapi"
	"github.com/podwire/podwire/sidecar"
)

// statusReport is the --json output of `podwire status`.
type statusReport struct {
	SocketDir string               `json:"socket_dir,omitempty"`
	Sockets   []sidecar.SocketFile `json:"sockets,omitempty"`
	Admins    []adminReport        `json:"admins"`
}

// adminReport is one admin endpoint's snapshot, or why it has none.
type adminReport struct {
	Admin    string              `json:"admin"`
	Snapshot *statusapi.Snapshot `json:"snapshot,omitempty"`
	Error    string              `json:"error,omitempty"`
}

// runStatus prints what podwire has open on this host, like netstat.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("status", "podwire status [--admin ADDR ...] [--socket-dir DIR] [--json] [--check healthz|readyz]", `
Reads /debug/sessions from sidecar and `+"`podwire serve --admin`"+` endpoints and prints
their listeners, mux sessions (RTT "—" until the first ping) and upstreams;
with --socket-dir also the *.sock files there, live or stale. --json prints
the same as one JSON object for scripts.`, stdout, stderr)
	var admins listFlag
	f.Var(&admins, "admin", "admin address, host:port or unix:PATH, of a sidecar or a serve process; repeatable (default: the sidecar admin socket in --socket-dir, else 127.0.0.1:15000)")
	dir := f.String("socket-dir", "", "list the *.sock files here, live or stale")
	check := f.String("check", "", "healthz or readyz: print nothing, exit 0 if the (first) admin answers 200, else 1 (for exec probes)")
	asJSON := f.Bool("json", false, "print one JSON object instead of tables")
	timeout := f.Duration("timeout", 2*time.Second, "per request and socket probe")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if *check != "" {
		if *check != "healthz" && *check != "readyz" {
			return usagef("--check %q: use healthz or readyz", *check)
		}
		addr := sidecar.DefaultConfig().Admin
		if len(admins) > 0 {
			addr = admins[0]
		}
		return sidecar.Check(ctx, addr, *check, *timeout)
	}
	rep := statusReport{SocketDir: *dir, Admins: []adminReport{}}
	if *dir != "" {
		socks, err := sidecar.ScanSocketDir(ctx, *dir, *timeout)
		if err != nil {
			return err
		}
		rep.Sockets = socks
		for _, sk := range socks {
			if sk.Admin && sk.Live && len(admins) == 0 {
				admins = append(admins, "unix:"+sk.Path)
			}
		}
	}
	if len(admins) == 0 {
		admins = append(admins, sidecar.DefaultConfig().Admin)
	}
	var failed []string
	for _, a := range admins {
		snap, err := statusapi.Fetch(ctx, a, *timeout)
		if err != nil {
			rep.Admins = append(rep.Admins, adminReport{Admin: a, Error: cliMessage(err)})
			failed = append(failed, cliMessage(err))
			continue
		}
		rep.Admins = append(rep.Admins, adminReport{Admin: a, Snapshot: &snap})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printStatus(stdout, rep)
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// printStatus writes rep as tables.
func printStatus(w io.Writer, rep statusReport) {
	if rep.SocketDir != "" {
		sidecar.RenderSockets(w, rep.SocketDir, rep.Sockets)
		fmt.Fprintln(w)
	}
	for i, a := range rep.Admins {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if a.Snapshot == nil {
			fmt.Fprintf(w, "ADMIN %s  unreachable\n", a.Admin)
			continue
		}
		statusapi.Render(w, a.Admin, *a.Snapshot)
	}
}
