package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"google.golang.org/grpc"
)

// Family groups rows by what runs on the path.
type Family string

// Row families.
const (
	FamilyRaw     Family = "raw"     // 64-byte echo over a net.Conn: the floor
	FamilyGRPC    Family = "grpc"    // bare grpc-go, no podwire code
	FamilyPodwire Family = "podwire" // the podwire SDK (transport package)
	FamilySidecar Family = "sidecar" // app → sidecar → mux/TLS → sidecar → app
	// FamilyExternal is what users run instead of podwire: an nginx pair.
	FamilyExternal Family = "external"
)

// Row describes one transport path of the benchmark.
type Row struct {
	// ID names the row in flags, tables and JSON, e.g. "grpc-uds".
	ID string
	// Transport is "uds", "tcp", "tls", "mux+tls" or "sidecar".
	Transport string
	// Family says whose code runs on the path.
	Family Family
	// Twin is the bare grpc-go row this row's ratio column divides by ("" for none).
	Twin string
	// TCPPeer is the TCP row of the same family, for the UDS÷TCP column ("" for none).
	TCPPeer string
	// OpensChannels says the row runs channel_open (instance.openChannel is set).
	OpensChannels bool
}

// env is what every row may use while it sets up: a private temp dir for
// the round's sockets and config files, the run's PKI, a logger, and where
// servers run.
type env struct {
	dir       string
	pki       *pki
	logger    *slog.Logger
	placement string
	launch    launcher
}

// startServer starts spec for in: in this process (placement inprocess)
// or in a child process of its own (deployed), and returns where it listens.
func (e *env) startServer(ctx context.Context, in *instance, spec serverSpec) (serverAddrs, error) {
	spec.PKI = e.pki.files()
	if e.placement == PlacementInProcess {
		addrs, stop, err := serve(ctx, spec, e.logger)
		if err != nil {
			return addrs, err
		}
		in.onClose(stop)
		return addrs, nil
	}
	p, addrs, err := e.launch.spawnServer(ctx, "server "+spec.Kind, spec)
	if err != nil {
		return addrs, err
	}
	in.addProc(p)
	return addrs, nil
}

// socketPath returns a socket path for name inside the run's temp dir.
func (e *env) socketPath(name string) string {
	return filepath.Join(e.dir, name+".sock")
}

// instance is a row that is up: exactly one of conn or dialRaw is set.
type instance struct {
	row Row
	// conn is the long-lived channel used by traffic workloads.
	conn *grpc.ClientConn
	// newConn makes a fresh channel the way a user would (lazy; the caller
	// makes it connect). Used by the setup and idle-memory workloads.
	newConn func(ctx context.Context) (*grpc.ClientConn, error)
	// dialRaw opens a new raw connection to the echo floor server.
	dialRaw func(ctx context.Context) (net.Conn, error)
	// rawConn is the long-lived raw connection for ping-pong.
	rawConn net.Conn
	// openChannel opens a connection-level channel (no gRPC) for channel_open.
	openChannel func(ctx context.Context) (net.Conn, error)
	// tlsAddr is the row's TLS listener address, if it has one.
	tlsAddr string
	// procs are the row's server processes (deployed placement).
	procs []*proc
	// closers run in reverse order on close.
	closers []func() error
}

func (in *instance) onClose(f func() error) { in.closers = append(in.closers, f) }

// addProc records a server process of the row and stops it on close.
func (in *instance) addProc(p *proc) {
	in.procs = append(in.procs, p)
	in.onClose(p.stop)
}

// close stops everything the row started, last started first.
func (in *instance) close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		if err := in.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	in.closers = nil
	if len(errs) > 0 {
		return fmt.Errorf("close row %s: %w", in.row.ID, errors.Join(errs...))
	}
	return nil
}

// rowSpec is a row plus how to start it. start returns errUnavailable
// (wrapped with the reason) when the code the row needs is not in this build.
type rowSpec struct {
	Row
	start func(ctx context.Context, e *env) (*instance, error)
}

// errUnavailable marks a row whose code is not in this build.
var errUnavailable = errors.New("not available in this build")

// allRows lists every row in report order.
func allRows() []rowSpec {
	rows := []rowSpec{
		{Row{ID: "raw-uds", Transport: "uds", Family: FamilyRaw, TCPPeer: "raw-tcp", OpensChannels: true}, startRawUDS},
		{Row{ID: "raw-tcp", Transport: "tcp", Family: FamilyRaw, OpensChannels: true}, startRawTCP},
		{Row{ID: "raw-tls", Transport: "tls", Family: FamilyRaw, OpensChannels: true}, startRawTLS},
		{Row{ID: "grpc-uds", Transport: "uds", Family: FamilyGRPC, TCPPeer: "grpc-tcp"}, startGRPCUDS},
		{Row{ID: "grpc-tcp", Transport: "tcp", Family: FamilyGRPC}, startGRPCTCP},
		{Row{ID: "grpc-tls", Transport: "tls", Family: FamilyGRPC}, startGRPCTLS},
	}
	rows = append(rows, podwireRows()...)
	rows = append(rows, sidecarRows()...)
	rows = append(rows, nginxRows()...)
	return rows
}

// RowIDs lists every row id this build knows, in report order.
func RowIDs() []string {
	var ids []string
	for _, r := range allRows() {
		ids = append(ids, r.ID)
	}
	return ids
}

// discardLogger is the logger used when none is configured.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
