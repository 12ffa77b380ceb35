package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/services/purchase"
	"github.com/podwire/podwire/telemetry"
	"github.com/podwire/podwire/transport"
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

// runServe parses `podwire serve inventory|purchase [flags]` and runs the
// service until ctx ends.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name, cfg, err := parseServe(args, stdout, stderr)
	if err != nil {
		return err
	}
	// OpenTelemetry from the standard OTEL_* variables; off when unset.
	tel, err := telemetry.Setup(ctx, name)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			cfg.Logger.Warn("flushing OpenTelemetry exports", "err", err)
		}
	}()
	cfg.ServerOptions = tel.ServerOptions()
	if opts := tel.DialOptions(); len(opts) > 0 {
		cfg.DialOptions = append(cfg.DialOptions, transport.WithGRPCOptions(opts...))
	}
	return serveRunners[name](ctx, cfg, nil)
}

// parseServe turns the arguments and PODWIRE_SERVE_* variables into the
// service name and its validated host.Config.
func parseServe(args []string, stdout, stderr io.Writer) (string, host.Config, error) {
	f := newFlags("serve", "podwire serve inventory|purchase --data FILE [flags]", `
Runs one sample service on <socket dir>/<name>.sock (and TCP+TLS with
--tls-listen) until SIGTERM, then drains for --shutdown-timeout.`, stdout, stderr)
	f.maxArgs = 1
	f.envNote = `Other environment (read by the podwire SDK, not flags): PODWIRE_SOCKET_DIR when
--socket-dir is not set; PODWIRE_ALLOW_SHARED_SOCKET_DIR=true to accept a socket
dir other users can write (a pod's emptyDir); PODWIRE_PEER_<NAME> and
PODWIRE_PEER_TEMPLATE to find remote peers (purchase finds inventory this way
when no inventory.sock is local). No other PODWIRE_* variable is read by serve.
The standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...)
turn on OpenTelemetry traces and metrics over OTLP; unset, nothing is exported.`
	var cfg host.Config
	var allow listFlag
	f.StringVar(&cfg.SocketDir, "socket-dir", "", "directory of <service>.sock sockets (default $PODWIRE_SOCKET_DIR, else /run/podwire)")
	f.StringVar(&cfg.TLSListen, "tls-listen", "", "also serve TCP+TLS on host:port")
	f.StringVar(&cfg.CertFile, "tls-cert", "", "PEM certificate for TLS (serving, and reaching remote peers)")
	f.StringVar(&cfg.KeyFile, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&cfg.CAFile, "tls-ca", "", "PEM CA bundle that peers' certificates must chain to")
	f.Var(&allow, "allow", "allowed callers: uid:N, gid:N, spiffe://..., dns:name (repeatable or comma list; default: own uid and the CA's certificates)")
	healthToAll := f.Bool("allow-health-to-all", true, "let any authenticated caller (any local Unix socket peer, any certificate the CA signed) reach grpc.health.v1 and reflection whatever --allow says; false puts them under --allow")
	f.StringVar(&cfg.DataPath, "data", "", "the service's data file (bbolt), e.g. /var/lib/podwire/inventory.db; required")
	f.StringVar(&cfg.AdminAddr, "admin", "", "serve /metrics, /healthz, /readyz, /debug/sessions on this loopback host:port or unix:/abs/path.sock")
	f.BoolVar(&cfg.Seed, "seed", false, "load demo stock at start (inventory)")
	f.StringVar(&cfg.Inventory, "inventory", "inventory", "purchase: how to reach inventory: a service name (its socket in --socket-dir, else PODWIRE_PEER_<NAME>=host:port), unix:///path.sock or tls://host:port; purchase serves at once and reports not ready until inventory answers")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight RPCs may finish on SIGTERM")
	pos, err := f.parse(args)
	if err != nil {
		return "", cfg, err
	}
	if len(pos) != 1 {
		return "", cfg, usagef("name the service to run: inventory or purchase")
	}
	name := pos[0]
	if _, ok := serveRunners[name]; !ok {
		return "", cfg, usagef("unknown service %q: use inventory or purchase", name)
	}
	cfg.Service, cfg.Allow, cfg.Logger = name, allow, f.log
	cfg.HealthUnderAllow = !*healthToAll
	if err := cfg.Validate(); err != nil {
		return "", cfg, asUsage(err, host.ErrConfig)
	}
	return name, cfg, nil
}
