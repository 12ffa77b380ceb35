package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/podwire/podwire/internal/preflight"
	"github.com/podwire/podwire/sidecar"
)

// errChecksFailed is returned when a check failed; the report says which.
var errChecksFailed = errors.New("some checks failed (see the ✘ lines above)")

// runCheck is `podwire check`: preflight checks, one line each.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("check", "podwire check [--config SIDECAR.yaml] [--tls-cert F --tls-key F --tls-ca F] [--socket-dir DIR] [--peer HOST:PORT ...] [--json]", `
Preflight, like linkerd check: certificate and key parse and match, chain to
the CA, are valid and not expiring within --warn-within, carry the expected
SPIFFE ID and SANs; the socket dir exists and no other user can write it;
each *.sock in it is live (stale ones are warnings); each peer completes a
TLS 1.3 handshake with this certificate and ALPN podwire-mux/1.
One line per check: ✔ passed, ‼ warning, ✘ failed (with a hint). Exit 1 when
any check failed. --config reads files, socket dir and peers (upstreams)
from a sidecar config; flags add to or override it.`, stdout, stderr)
	cfgPath := f.String("config", "", "sidecar YAML config to take tls files, socket_dir and upstreams from")
	cert := f.String("tls-cert", "", "PEM certificate to check")
	key := f.String("tls-key", "", "PEM private key of --tls-cert")
	ca := f.String("tls-ca", "", "PEM CA bundle the certificate and the peers must chain to")
	spiffe := f.String("spiffe-id", "", "SPIFFE ID the certificate must carry, e.g. spiffe://podwire.local/inventory")
	var sans, peers listFlag
	f.Var(&sans, "san", "DNS name or IP the certificate must be valid for; repeatable or comma list")
	within := f.Duration("warn-within", 30*24*time.Hour, "warn when the certificate expires within this")
	dir := f.String("socket-dir", "", "socket dir to check, with its *.sock files")
	shared := f.Bool("allow-shared-dir", false, "accept a socket dir other users can write (a pod's private emptyDir)")
	f.Var(&peers, "peer", "peer TLS address host:port (or name=host:port) to handshake with; repeatable or comma list")
	timeout := f.Duration("timeout", 3*time.Second, "per probe and handshake")
	asJSON := f.Bool("json", false, "print {\"ok\": bool, \"checks\": [...]} instead of lines")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if *within <= 0 || *timeout <= 0 {
		return usagef("--warn-within and --timeout must be positive")
	}
	cfg := preflight.Config{CertFile: *cert, KeyFile: *key, CAFile: *ca, SPIFFEID: *spiffe, SANs: sans,
		WarnWithin: *within, SocketDir: *dir, AllowSharedDir: *shared, Timeout: *timeout}
	if *cfgPath != "" {
		sc, err := sidecar.LoadConfig(*cfgPath, nil)
		if err != nil {
			return err
		}
		fromSidecar(&cfg, sc, f)
	}
	for _, p := range peers {
		name, addr, ok := strings.Cut(p, "=")
		if !ok {
			name, addr = "", p
		}
		cfg.Peers = append(cfg.Peers, preflight.Peer{Name: name, Address: addr})
	}
	if cfg.CertFile != "" && (cfg.KeyFile == "" || cfg.CAFile == "") {
		return usagef("--tls-cert needs --tls-key and --tls-ca")
	}
	if cfg.CertFile == "" && cfg.CAFile == "" && cfg.SocketDir == "" && len(cfg.Peers) == 0 {
		return usagef("nothing to check: pass --config, certificate files, --socket-dir or --peer")
	}
	rs := preflight.Run(ctx, cfg)
	if *asJSON {
		if err := preflight.RenderJSON(stdout, rs); err != nil {
			return err
		}
	} else {
		preflight.Render(stdout, rs)
	}
	if preflight.Failed(rs) {
		return errChecksFailed
	}
	return nil
}

// fromSidecar fills what the flags left unset from a sidecar config.
func fromSidecar(cfg *preflight.Config, sc sidecar.Config, f *flags) {
	setIfEmpty := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	setIfEmpty(&cfg.CertFile, sc.TLS.Cert)
	setIfEmpty(&cfg.KeyFile, sc.TLS.Key)
	setIfEmpty(&cfg.CAFile, sc.TLS.CA)
	setIfEmpty(&cfg.SocketDir, sc.SocketDir)
	if !f.set("allow-shared-dir") {
		cfg.AllowSharedDir = sc.AllowSharedSocketDir
	}
	for _, u := range sc.Upstreams {
		cfg.Peers = append(cfg.Peers, preflight.Peer{Name: u.Name, Address: u.Address, ServerName: u.ServerName})
	}
}
