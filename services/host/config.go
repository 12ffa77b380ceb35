package host

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/podwire/podwire/transport"
)

// Config says how and where a service runs. The zero value of each
// optional field means its default.
type Config struct {
	// Service is the service name and socket name ("inventory"); set by
	// the service's Run.
	Service string
	// SocketDir holds <Service>.sock; default $PODWIRE_SOCKET_DIR, else
	// /run/podwire.
	SocketDir string
	// TLSListen optionally serves TCP+TLS on host:port too; needs the
	// three files below.
	TLSListen string
	// CertFile, KeyFile and CAFile are PEM files for TLSListen, and the
	// client certificate a service uses to reach remote peers.
	CertFile, KeyFile, CAFile string
	// Allow is the allow-list ("uid:N", "gid:N", "spiffe://...",
	// "dns:name"); empty allows the server's own uid and any certificate
	// from the CA.
	Allow []string
	// HealthUnderAllow puts grpc.health.v1 and server reflection under
	// Allow too. Default false: any authenticated peer (any local Unix
	// socket peer, any certificate the CA signed) may call them, so probes
	// and grpcurl work whatever Allow says (transport.WithHealthToAll).
	HealthUnderAllow bool
	// DataPath is the service's bbolt file; required.
	DataPath string
	// AdminAddr optionally serves /metrics, /healthz and /readyz over HTTP
	// on a loopback host:port, or on a Unix socket "unix:/abs/path.sock"
	// (in a pod: in the shared socket dir, where the sidecar's
	// metrics_listen proxies /metrics/app to it and exec probes reach it).
	AdminAddr string
	// Seed loads demo data at start (inventory: DemoStock).
	Seed bool
	// Inventory is how purchase reaches inventory: a service name (its
	// socket in SocketDir, else PODWIRE_PEER_<NAME>), unix:///path.sock or
	// tls://host:port. Default "inventory". Other services ignore it.
	Inventory string
	// ShutdownTimeout bounds the graceful stop before in-flight RPCs are
	// cut off. Default 10s.
	ShutdownTimeout time.Duration
	// ServerOptions are added to the service's grpc.Server, e.g. the
	// OpenTelemetry stats handler of telemetry.Telemetry.ServerOptions.
	ServerOptions []grpc.ServerOption
	// DialOptions are added to every transport.Dial the service makes
	// (purchase → inventory), e.g. transport.WithGRPCOptions of
	// telemetry.Telemetry.DialOptions, so client spans join the trace.
	DialOptions []transport.DialOption
	// Logger receives lifecycle logs; nil discards.
	Logger *slog.Logger
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Service == "":
		return fmt.Errorf("%w: Service is empty; name the service", ErrConfig)
	case c.DataPath == "":
		return fmt.Errorf("%w: the data file is not set; pass --data PATH (e.g. /var/lib/podwire/%s.db)", ErrConfig, c.Service)
	case c.TLSListen != "" && (c.CertFile == "" || c.KeyFile == "" || c.CAFile == ""):
		return fmt.Errorf("%w: --tls-listen needs --tls-cert, --tls-key and --tls-ca", ErrConfig)
	case c.ShutdownTimeout < 0:
		return fmt.Errorf("%w: ShutdownTimeout %v is negative", ErrConfig, c.ShutdownTimeout)
	}
	if c.AdminAddr != "" {
		if err := loopback(c.AdminAddr); err != nil {
			return err
		}
	}
	return nil
}

// loopback checks that addr is unix:/abs/path, or host:port with a
// loopback IP or localhost.
func loopback(addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return fmt.Errorf("%w: --admin %q: the socket path must be absolute, e.g. unix:/run/podwire/inventory-admin.sock", ErrConfig, addr)
		}
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: --admin %q is not host:port: %v", ErrConfig, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: --admin %q must be on loopback (127.0.0.1:PORT, [::1]:PORT or unix:/abs/path.sock); the admin endpoint has no authentication", ErrConfig, addr)
	}
	return nil
}

func (c Config) shutdownTimeout() time.Duration {
	if c.ShutdownTimeout == 0 {
		return 10 * time.Second
	}
	return c.ShutdownTimeout
}
