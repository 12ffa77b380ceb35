package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/services/purchase"
)

// serveRunners maps `podwire serve <name>` to the service's Run.
var serveRunners = map[string]func(context.Context, host.Config, func(host.Addrs)) error{
	inventory.ServiceName: inventory.Run,
	purchase.ServiceName:  purchase.Run,
}

// listFlag is a repeatable flag that also takes comma-separated lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			*l = append(*l, e)
		}
	}
	return nil
}

// runServe parses `podwire serve inventory|purchase [flags]` (with
// PODWIRE_* environment equivalents) and runs the service until ctx ends.
func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	name, cfg, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	return serveRunners[name](ctx, cfg, nil)
}

// parseServe turns the arguments and PODWIRE_* variables into the service
// name and its host.Config.
func parseServe(args []string, stderr io.Writer) (string, host.Config, error) {
	fs := flag.NewFlagSet("podwire serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg host.Config
	var allow listFlag
	fs.StringVar(&cfg.SocketDir, "socket-dir", "", "directory of <service>.sock sockets (default /run/podwire)")
	fs.StringVar(&cfg.TLSListen, "tls-listen", "", "also serve TCP+TLS on host:port")
	fs.StringVar(&cfg.CertFile, "tls-cert", "", "PEM certificate for TLS (serving, and reaching remote peers)")
	fs.StringVar(&cfg.KeyFile, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&cfg.CAFile, "tls-ca", "", "PEM CA bundle that peers' certificates must chain to")
	fs.Var(&allow, "allow", "allowed callers: uid:N, gid:N, spiffe://..., dns:name (repeatable or comma list; default: own uid and the CA's certificates)")
	healthToAll := fs.Bool("allow-health-to-all", true, "let any authenticated caller (any local Unix socket peer, any certificate the CA signed) reach grpc.health.v1 and reflection whatever --allow says; false puts them under --allow")
	fs.StringVar(&cfg.DataPath, "data", "", "the service's data file (bbolt), e.g. /var/lib/podwire/inventory.db; required")
	fs.StringVar(&cfg.AdminAddr, "admin", "", "serve /metrics, /healthz, /readyz on this loopback host:port")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&cfg.Seed, "seed", false, "load demo stock at start (inventory)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight RPCs may finish on SIGTERM")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: podwire serve inventory|purchase [flags]   (every flag also reads PODWIRE_<FLAG>, e.g. PODWIRE_SOCKET_DIR)")
		fs.PrintDefaults()
	}
	name := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return "", cfg, err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if _, ok := serveRunners[name]; !ok || fs.NArg() > 1 || (fs.NArg() == 1 && fs.Arg(0) != name) {
		return "", cfg, fmt.Errorf("%w: podwire serve inventory|purchase [flags]: name one service to run, got %q", errUsage, strings.TrimSpace(name+" "+strings.Join(fs.Args(), " ")))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return "", cfg, fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, *logLevel)
	}
	cfg.Allow = allow
	cfg.HealthUnderAllow = !*healthToAll
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return name, cfg, nil
}
