package sidecar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/transport"
	"go.yaml.in/yaml/v3"
)

// Config is the sidecar configuration, read from YAML (see
// deploy/k8s/sidecar.yaml for a commented example). Start from
// DefaultConfig, or use LoadConfig, which applies the defaults, the file and
// the PODWIRE_* environment overrides in that order and then Validate. A
// Config is a value: copying it is safe.
type Config struct {
	// SocketDir is the directory shared with the app (an emptyDir in a pod).
	// The sidecar creates <SocketDir>/<upstream>.sock for each upstream and
	// dials <SocketDir>/<service>.sock for each inbound service. Absolute
	// path. Default "/run/podwire". Env: PODWIRE_SOCKET_DIR.
	SocketDir string `yaml:"socket_dir"`

	// SocketGroup is an optional numeric group id given to the sockets the
	// sidecar creates (they are mode 0660). Empty keeps the process group;
	// in Kubernetes fsGroup makes both containers share one. Env:
	// PODWIRE_SOCKET_GROUP.
	SocketGroup string `yaml:"socket_group"`

	// AllowSharedSocketDir accepts a SocketDir that other users can write
	// or another uid owns. Without it the sidecar refuses to start in such
	// a dir (another user could replace its sockets; see
	// transport.UnixSocketOptions.AllowSharedDir). Set it for a Kubernetes
	// emptyDir, which the kubelet creates 0777 but only the pod's
	// containers can reach. Default false. Env:
	// PODWIRE_ALLOW_SHARED_SOCKET_DIR.
	AllowSharedSocketDir bool `yaml:"allow_shared_socket_dir"`

	// Listen is the inbound TCP+TLS address that peers' sidecars (and SDK
	// clients) reach, "host:port". Used only when Services is not empty.
	// Default ":15443". Env: PODWIRE_LISTEN.
	Listen string `yaml:"listen"`

	// Admin is where /metrics, /healthz, /readyz and /debug/sessions are
	// served: a loopback "host:port" (e.g. "127.0.0.1:15000") or
	// "unix:/abs/path.sock". Never exposed off the host. Default
	// "127.0.0.1:15000". Env: PODWIRE_ADMIN.
	Admin string `yaml:"admin"`

	// MetricsListen optionally serves a metrics-only HTTP endpoint on
	// "host:port", e.g. ":15090" on the pod IP for Prometheus: GET
	// /metrics (this sidecar's metrics) and GET /metrics/app (the app's
	// /metrics, fetched from AppAdmin). Nothing else is served there:
	// health, readiness and /debug stay on Admin. Default "" (off). Env:
	// PODWIRE_METRICS_LISTEN.
	MetricsListen string `yaml:"metrics_listen"`

	// AppAdmin is the app's admin endpoint, "unix:/abs/path.sock" (e.g.
	// `podwire serve --admin=unix:/run/podwire/inventory-admin.sock`) or a
	// loopback "host:port", whose /metrics the MetricsListen endpoint
	// serves at /metrics/app. Default "" (/metrics/app answers 404). Env:
	// PODWIRE_APP_ADMIN.
	AppAdmin string `yaml:"app_admin"`

	// TLS holds the PEM files for the mTLS link between sidecars. Required
	// when Services or Upstreams is not empty.
	TLS TLSFiles `yaml:"tls"`

	// Services are the local services this sidecar admits inbound, each
	// with an allow list. A stream naming any other service is refused with
	// NOT_FOUND.
	Services []Service `yaml:"services"`

	// Upstreams are the remote services the app may call through
	// <SocketDir>/<name>.sock.
	Upstreams []Upstream `yaml:"upstreams"`

	// DrainTimeout bounds the drain after SIGTERM: readiness goes false,
	// listeners close, peers get GoAway, and in-flight streams get this long
	// to finish before they are cut. Keep terminationGracePeriodSeconds
	// above it. Default 20s. Env: PODWIRE_DRAIN_TIMEOUT.
	DrainTimeout time.Duration `yaml:"drain_timeout"`

	// HandshakeTimeout bounds the TLS handshake of an inbound connection and
	// of a dial to an upstream; slow or silent peers are cut off. Default
	// 10s. Env: PODWIRE_HANDSHAKE_TIMEOUT.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`

	// MaxPendingHandshakes caps the inbound TLS handshakes in progress: a
	// connection accepted beyond it is closed at once (counted as the
	// refusal reason "handshake_limit"), so a flood of silent connections
	// cannot grow the sidecar's goroutines without bound. Default 256.
	// Env: PODWIRE_MAX_PENDING_HANDSHAKES.
	MaxPendingHandshakes int `yaml:"max_pending_handshakes"`

	// HeaderTimeout bounds the wait for the podwire.wire.v1 header on an
	// inbound stream and for the reply on an outbound one. Default 5s. Env:
	// PODWIRE_HEADER_TIMEOUT.
	HeaderTimeout time.Duration `yaml:"header_timeout"`

	// DialTimeout bounds opening a stream to an upstream (including a new
	// TLS session) and connecting to a local app socket. Default 10s. Env:
	// PODWIRE_DIAL_TIMEOUT.
	DialTimeout time.Duration `yaml:"dial_timeout"`

	// KeepAliveInterval is how often each mux session to or from a peer
	// sidecar is pinged (the ping also measures RTT). Default 15s, as
	// mux.DefaultConfig. Env: PODWIRE_KEEPALIVE_INTERVAL.
	KeepAliveInterval time.Duration `yaml:"keepalive_interval"`

	// KeepAliveTimeout is how long a session may go without an answer to a
	// ping before it is declared dead and its streams fail (a peer that was
	// paused or partitioned is detected within KeepAliveInterval +
	// KeepAliveTimeout). Default 10s, as mux.DefaultConfig. Env:
	// PODWIRE_KEEPALIVE_TIMEOUT.
	KeepAliveTimeout time.Duration `yaml:"keepalive_timeout"`

	// GOMAXPROCS is the Go scheduler's parallelism of the sidecar process,
	// applied by Run (`podwire sidecar`). 0 means: the GOMAXPROCS
	// environment variable if the operator set it, else DefaultGOMAXPROCS
	// (1, measured: fewer cross-CPU wake-ups per proxied call), never above
	// the container's CPU limit. Env: PODWIRE_GOMAXPROCS.
	GOMAXPROCS int `yaml:"gomaxprocs"`
}

// TLSFiles names the PEM files of the sidecar's identity. They are
// watched (transport.CertSource) and reloaded about 100ms after they
// change, so a renewed Secret takes effect without a restart; live
// sessions keep the certificates they were made with, and a broken new
// set is logged and the previous one kept.
type TLSFiles struct {
	// Cert is the PEM certificate chain presented to peers, both as server
	// and as client. Its URI SAN (SPIFFE ID) or DNS SANs are what peers'
	// allow lists match. Env: PODWIRE_TLS_CERT.
	Cert string `yaml:"cert"`
	// Key is the PEM private key of Cert. Env: PODWIRE_TLS_KEY.
	Key string `yaml:"key"`
	// CA is the PEM bundle of CAs that sign peers' certificates; a peer
	// whose chain does not verify is cut off during the handshake. Env:
	// PODWIRE_TLS_CA.
	CA string `yaml:"ca"`
}

// Service is one local service admitted inbound.
type Service struct {
	// Name is the service name peers put in the stream header; the sidecar
	// connects to <SocketDir>/<Name>.sock. A DNS label: 1 to 63 bytes of
	// [a-z0-9-], starting with a letter.
	Name string `yaml:"name"`
	// Allow lists the peer identities admitted: "spiffe://..." matches the
	// peer certificate's URI SAN exactly, "dns:NAME" one of its DNS SANs
	// ("dns:*.example.org" matches exactly one label), as parsed by
	// transport.ParseAllowList. Empty admits any peer whose certificate the
	// CA signed.
	Allow []string `yaml:"allow"`
}

// Upstream is one remote service the app reaches through a local socket.
type Upstream struct {
	// Name is the remote service; the app dials <SocketDir>/<Name>.sock and
	// the stream header names it. A DNS label like Service.Name.
	Name string `yaml:"name"`
	// Address is the peer sidecar's (or SDK server's) TLS "host:port",
	// e.g. "inventory.shop.svc.cluster.local:15443". The host is also the
	// TLS server name checked against the peer's certificate. Env:
	// PODWIRE_PEER_<NAME> (upper case, '-' as '_'), as in the SDK.
	Address string `yaml:"address"`
	// ServerName overrides the TLS server name checked against the peer's
	// certificate. Default: the host of Address.
	ServerName string `yaml:"server_name"`
	// Payload is what the stream header says the stream carries: "raw"
	// (default; any bytes, for a peer sidecar) or "grpc" (the app speaks
	// gRPC on the socket; needed when Address is a podwire SDK server,
	// which accepts only gRPC streams). The bytes are copied the same way.
	Payload string `yaml:"payload"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		SocketDir:            "/run/podwire",
		Listen:               ":15443",
		Admin:                "127.0.0.1:15000",
		DrainTimeout:         20 * time.Second,
		HandshakeTimeout:     10 * time.Second,
		MaxPendingHandshakes: transport.DefaultMaxPendingHandshakes,
		HeaderTimeout:        5 * time.Second,
		DialTimeout:          10 * time.Second,
		KeepAliveInterval:    mux.DefaultConfig().KeepAliveInterval,
		KeepAliveTimeout:     mux.DefaultConfig().KeepAliveTimeout,
	}
}

// ParseConfig decodes YAML from r over DefaultConfig. Unknown keys fail
// (a typo never silently does nothing). It does not apply the environment
// or validate; LoadConfig does both.
func ParseConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	data, err := io.ReadAll(r)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, &ConfigError{Field: "(yaml)", Reason: err.Error() + "; keys are documented in deploy/k8s/sidecar.yaml"}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return cfg, &ConfigError{Field: "(yaml)", Reason: "more than one YAML document; put the whole config in one"}
	}
	return cfg, nil
}

// LoadConfig reads path (skipped when empty), applies the PODWIRE_*
// environment overrides found by lookup (os.LookupEnv when nil) and
// validates the result.
func LoadConfig(path string, lookup func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return cfg, fmt.Errorf("open config: %w (pass --config with a readable YAML file)", err)
		}
		defer f.Close()
		if cfg, err = ParseConfig(f); err != nil {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := cfg.ApplyEnv(lookup); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		return cfg, err
	}
	return cfg, nil
}

// ApplyEnv overrides fields from the environment variables named on each
// field (PODWIRE_SOCKET_DIR, PODWIRE_LISTEN, ..., PODWIRE_PEER_<NAME> for an
// upstream's address). An empty variable counts as set.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	strs := []struct {
		env string
		dst *string
	}{
		{"PODWIRE_SOCKET_DIR", &c.SocketDir},
		{"PODWIRE_SOCKET_GROUP", &c.SocketGroup},
		{"PODWIRE_LISTEN", &c.Listen},
		{"PODWIRE_ADMIN", &c.Admin},
		{"PODWIRE_METRICS_LISTEN", &c.MetricsListen},
		{"PODWIRE_APP_ADMIN", &c.AppAdmin},
		{"PODWIRE_TLS_CERT", &c.TLS.Cert},
		{"PODWIRE_TLS_KEY", &c.TLS.Key},
		{"PODWIRE_TLS_CA", &c.TLS.CA},
	}
	for _, s := range strs {
		if v, ok := lookup(s.env); ok {
			*s.dst = v
		}
	}
	durs := []struct {
		env string
		dst *time.Duration
	}{
		{"PODWIRE_DRAIN_TIMEOUT", &c.DrainTimeout},
		{"PODWIRE_HANDSHAKE_TIMEOUT", &c.HandshakeTimeout},
		{"PODWIRE_HEADER_TIMEOUT", &c.HeaderTimeout},
		{"PODWIRE_DIAL_TIMEOUT", &c.DialTimeout},
		{"PODWIRE_KEEPALIVE_INTERVAL", &c.KeepAliveInterval},
		{"PODWIRE_KEEPALIVE_TIMEOUT", &c.KeepAliveTimeout},
	}
	for _, d := range durs {
		v, ok := lookup(d.env)
		if !ok {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return &ConfigError{Field: d.env, Reason: fmt.Sprintf("%q is not a duration; write e.g. 20s or 1m30s", v)}
		}
		*d.dst = dur
	}
	if v, ok := lookup(transport.AllowSharedSocketDirEnv); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &ConfigError{Field: transport.AllowSharedSocketDirEnv, Reason: fmt.Sprintf("%q is not a boolean; write true or false", v)}
		}
		c.AllowSharedSocketDir = b
	}
	if v, ok := lookup("PODWIRE_GOMAXPROCS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &ConfigError{Field: "PODWIRE_GOMAXPROCS", Reason: fmt.Sprintf("%q is not a whole number; write e.g. 1", v)}
		}
		c.GOMAXPROCS = n
	}
	if v, ok := lookup("PODWIRE_MAX_PENDING_HANDSHAKES"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &ConfigError{Field: "PODWIRE_MAX_PENDING_HANDSHAKES", Reason: fmt.Sprintf("%q is not a whole number; write e.g. 256", v)}
		}
		c.MaxPendingHandshakes = n
	}
	for i := range c.Upstreams {
		if v, ok := lookup(PeerEnv(c.Upstreams[i].Name)); ok {
			c.Upstreams[i].Address = v
		}
	}
	return nil
}

// PeerEnv returns the environment variable that overrides the address of
// the upstream name: PODWIRE_PEER_ and the name in upper case with '-' as
// '_' (the SDK reads the same variable).
func PeerEnv(name string) string {
	return "PODWIRE_PEER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// adminSocketName is the file name Status looks for in a socket directory.
const adminSocketName = "podwire-admin.sock"

// Validate reports the first invalid field, naming it and what to do.
func (c Config) Validate() error {
	if !filepath.IsAbs(c.SocketDir) {
		return &ConfigError{Field: "socket_dir", Reason: fmt.Sprintf("%q is not an absolute path; use e.g. /run/podwire", c.SocketDir)}
	}
	if err := validateGroup(c.SocketGroup); err != nil {
		return err
	}
	if err := validateAdmin(c.Admin); err != nil {
		return err
	}
	if err := c.validateMetrics(); err != nil {
		return err
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"drain_timeout", c.DrainTimeout},
		{"handshake_timeout", c.HandshakeTimeout},
		{"header_timeout", c.HeaderTimeout},
		{"dial_timeout", c.DialTimeout},
		{"keepalive_interval", c.KeepAliveInterval},
		{"keepalive_timeout", c.KeepAliveTimeout},
	} {
		if d.v <= 0 {
			return &ConfigError{Field: d.field, Reason: fmt.Sprintf("%v must be positive; write e.g. 10s", d.v)}
		}
	}
	if c.GOMAXPROCS < 0 {
		return &ConfigError{Field: "gomaxprocs", Reason: fmt.Sprintf("%d is negative; write 0 for the default or e.g. 1", c.GOMAXPROCS)}
	}
	if c.MaxPendingHandshakes <= 0 {
		return &ConfigError{Field: "max_pending_handshakes", Reason: fmt.Sprintf("%d must be positive; write e.g. %d", c.MaxPendingHandshakes, transport.DefaultMaxPendingHandshakes)}
	}
	if len(c.Services) == 0 && len(c.Upstreams) == 0 {
		return &ConfigError{Field: "services", Reason: "no services and no upstreams: the sidecar would do nothing; list at least one of them"}
	}
	if err := c.validateServices(); err != nil {
		return err
	}
	if err := c.validateUpstreams(); err != nil {
		return err
	}
	return c.validateTLS()
}

func validateGroup(g string) error {
	if g == "" {
		return nil
	}
	for _, r := range g {
		if r < '0' || r > '9' {
			return &ConfigError{Field: "socket_group", Reason: fmt.Sprintf("%q is not a numeric group id; write e.g. 65532 or leave it empty", g)}
		}
	}
	return nil
}

func validateAdmin(a string) error {
	if path, ok := strings.CutPrefix(a, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return &ConfigError{Field: "admin", Reason: fmt.Sprintf("%q: the socket path must be absolute, e.g. unix:/run/podwire/%s", a, adminSocketName)}
		}
		return nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || port == "" {
		return &ConfigError{Field: "admin", Reason: fmt.Sprintf("%q is neither host:port nor unix:PATH; use e.g. 127.0.0.1:15000", a)}
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return &ConfigError{Field: "admin", Reason: fmt.Sprintf("%q is not a loopback address; the admin endpoint must not leave the host: use 127.0.0.1:PORT, [::1]:PORT or unix:PATH", a)}
	}
	return nil
}

func (c Config) validateServices() error {
	seen := map[string]bool{}
	for i, s := range c.Services {
		field := fmt.Sprintf("services[%d].name", i)
		if err := mux.ValidateServiceName(s.Name); err != nil {
			return &ConfigError{Field: field, Reason: err.Error()}
		}
		if seen[s.Name] {
			return &ConfigError{Field: field, Reason: fmt.Sprintf("service %q is listed twice; merge the entries", s.Name)}
		}
		seen[s.Name] = true
		for j, a := range s.Allow {
			if _, err := parseAllow([]string{a}); err != nil {
				return &ConfigError{Field: fmt.Sprintf("services[%d].allow[%d]", i, j), Reason: err.Error()}
			}
		}
	}
	if len(c.Services) > 0 {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return &ConfigError{Field: "listen", Reason: fmt.Sprintf("%q is not host:port; use e.g. :15443", c.Listen)}
		}
	}
	return nil
}

// parseAllow parses a service's allow list with transport.ParseAllowList
// (spiffe://..., dns:NAME, dns:*.DOMAIN); uid: and gid: entries are
// refused, as a sidecar's peers always come over TLS.
func parseAllow(entries []string) (*transport.AllowList, error) {
	for _, e := range entries {
		if strings.HasPrefix(e, "uid:") || strings.HasPrefix(e, "gid:") {
			return nil, &AllowEntryError{Entry: e, Reason: "uid/gid apply to Unix sockets only, and peers of a sidecar " +
				"always come over TLS; use spiffe://TRUST-DOMAIN/PATH or dns:NAME"}
		}
	}
	return transport.ParseAllowList(entries)
}

func (c Config) validateUpstreams() error {
	seen := map[string]bool{}
	for i, u := range c.Upstreams {
		field := fmt.Sprintf("upstreams[%d]", i)
		if err := mux.ValidateServiceName(u.Name); err != nil {
			return &ConfigError{Field: field + ".name", Reason: err.Error()}
		}
		if seen[u.Name] {
			return &ConfigError{Field: field + ".name", Reason: fmt.Sprintf("upstream %q is listed twice; keep one", u.Name)}
		}
		seen[u.Name] = true
		if u.Name+".sock" == adminSocketName {
			return &ConfigError{Field: field + ".name", Reason: fmt.Sprintf("%q would collide with the admin socket %s; rename it", u.Name, adminSocketName)}
		}
		if u.Payload != "" && u.Payload != "raw" && u.Payload != "grpc" {
			return &ConfigError{Field: field + ".payload", Reason: fmt.Sprintf("%q: use raw (a peer sidecar) or grpc (a podwire SDK server)", u.Payload)}
		}
		host, port, err := net.SplitHostPort(u.Address)
		if err != nil || host == "" || port == "" {
			return &ConfigError{Field: field + ".address", Reason: fmt.Sprintf("%q is not host:port; use e.g. %s.shop.svc.cluster.local:15443 (or set %s)", u.Address, u.Name, PeerEnv(u.Name))}
		}
	}
	return nil
}

func (c Config) validateTLS() error {
	for _, f := range []struct{ field, v string }{
		{"tls.cert", c.TLS.Cert}, {"tls.key", c.TLS.Key}, {"tls.ca", c.TLS.CA},
	} {
		if f.v == "" {
			return &ConfigError{Field: f.field, Reason: "missing: the link between sidecars is always mutual TLS; give the PEM file path (e.g. /etc/podwire/tls/" + strings.TrimPrefix(f.field, "tls.") + ".pem)"}
		}
	}
	return nil
}
