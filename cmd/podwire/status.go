package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/podwire/podwire/sidecar"
)

// runStatus prints what podwire has open on this host, like netstat:
// podwire status [--admin ADDR] [--socket-dir DIR] [--check healthz|readyz].
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("podwire status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "", "sidecar admin address, host:port or unix:PATH (env PODWIRE_ADMIN; default: the admin socket in --socket-dir, else 127.0.0.1:15000)")
	dir := fs.String("socket-dir", "", "list the *.sock files here, live or stale (env PODWIRE_SOCKET_DIR)")
	check := fs.String("check", "", "healthz or readyz: print nothing, exit 0 if the sidecar answers 200, else 1 (for exec probes)")
	timeout := fs.Duration("timeout", 2*time.Second, "per request and socket probe (env PODWIRE_TIMEOUT)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *check != "" {
		addr := *admin
		if addr == "" {
			addr = sidecar.DefaultConfig().Admin
		}
		return sidecar.Check(ctx, addr, *check, *timeout)
	}
	return sidecar.Status(ctx, stdout, sidecar.StatusOptions{Admin: *admin, SocketDir: *dir, Timeout: *timeout})
}
