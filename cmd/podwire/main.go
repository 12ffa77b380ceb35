// Command podwire is the podwire CLI: one binary with subcommands.
//
// Each subcommand parses its flags (with PODWIRE_* environment equivalents)
// and calls a Run function that lives in a package; this command holds no
// logic of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3"
)

// command is one subcommand of podwire.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order `podwire help` prints them.
func commands() []command {
	return []command{
		{"bench", "compare UDS, TCP, TLS, mux+TLS and the sidecar against bare grpc-go", runBench},
		{"certs", "write a dev CA and per-service mTLS certificates", runCerts},
		{"demo", "run inventory and purchase locally and place a batch of orders", runDemo},
		{"serve", "run a sample service: podwire serve inventory|purchase", runServe},
		{"sidecar", "run the pod sidecar: app Unix sockets <-> mTLS mux to peer sidecars", runSidecar},
		{"status", "show podwire sockets, listeners, sessions and peers (like netstat)", runStatus},
		{"version", "print the podwire version", runVersion},
	}
}

// errUsage marks errors whose message is a usage text; main exits 2 on it.
var errUsage = errors.New("usage")

// parseFlags parses args into fs, with PODWIRE_<FLAG> environment
// equivalents, so that every subcommand treats bad flags alike: -h returns
// flag.ErrHelp (exit 0), anything else is a usage error (exit 2).
func parseFlags(fs *flag.FlagSet, args []string, opts ...ff.Option) error {
	err := ff.Parse(fs, args, append([]ff.Option{ff.WithEnvVarPrefix("PODWIRE")}, opts...)...)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %s: %v; run `%s -h` for the flags", errUsage, fs.Name(), err, fs.Name())
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainCode(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// mainCode runs the subcommand named by args[0] and returns the exit code.
func mainCode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintln(stderr, err)
			return 2
		default:
			fmt.Fprintf(stderr, "podwire %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "podwire: unknown command %q; run `podwire help` for the list\n", args[0])
	return 2
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "podwire: gRPC between services over Unix sockets when co-located, mTLS+yamux otherwise.")
	fmt.Fprintln(w, "\nUsage: podwire <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `podwire <command> -h` for a command's flags.")
}
