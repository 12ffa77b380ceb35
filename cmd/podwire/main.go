// Command podwire is the podwire CLI: one binary with subcommands.
//
// Every subcommand follows the same conventions (see flags in cli.go): its
// flags also read PODWIRE_<COMMAND>_<FLAG> and no other variable, it takes
// --log-format and --log-level, usage errors exit 2 and runtime errors 1,
// each printed once on one line, and `podwire help COMMAND` prints its
// help. Each subcommand parses its flags and calls a Run function that
// lives in a package; this command holds no logic of its own.
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
		{"check", "preflight: certificates, socket dir, sockets and peers, one line per check", runCheck},
		{"demo", "run inventory and purchase locally and place a batch of orders", runDemo},
		{"inject", "add the podwire sidecar to Kubernetes workloads (YAML in, YAML out)", runInject},
		{"serve", "run a sample service: podwire serve inventory|purchase", runServe},
		{"sidecar", "run the pod sidecar: app Unix sockets <-> mTLS mux to peer sidecars", runSidecar},
		{"status", "show podwire sockets, listeners, sessions and peers (like netstat)", runStatus},
		{"version", "print the podwire version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainCode(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// lookup returns the subcommand called name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// mainCode runs the subcommand named by args[0] and returns the exit code:
// 0 on success and help, 2 on a usage error, 1 on any other error.
func mainCode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		printHelp(stdout)
		return 0
	case "help":
		switch len(args) {
		case 1:
			printHelp(stdout)
			return 0
		case 2:
			if _, ok := lookup(args[1]); !ok {
				fmt.Fprintf(stderr, "podwire help: unknown command %q; run `podwire help` for the list\n", args[1])
				return 2
			}
			name, args = args[1], []string{args[1], "-h"}
		default:
			fmt.Fprintf(stderr, "podwire help: unexpected argument %q (help takes one command name)\n", args[2])
			return 2
		}
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "podwire: unknown command %q; run `podwire help` for the list\n", name)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "podwire %s: %s; run `podwire help %s`\n", c.name, oneLine(ue.msg), c.name)
		return 2
	default:
		fmt.Fprintf(stderr, "podwire %s: %s\n", c.name, oneLine(cliMessage(err)))
		return 1
	}
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "podwire: gRPC between services over Unix sockets when co-located, mTLS+yamux otherwise.")
	fmt.Fprintln(w, "\nUsage: podwire <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `podwire help <command>` for a command's flags and environment variables.")
	fmt.Fprintln(w, "Each flag --name of a command also reads PODWIRE_<COMMAND>_<NAME> (e.g. PODWIRE_SERVE_DATA).")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 runtime error, 2 usage error.")
}
