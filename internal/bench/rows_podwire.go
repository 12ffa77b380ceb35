package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"github.com/podwire/podwire/transport"
)

// podwireService is the service name of the podwire rows' echo server; the
// server certificate carries it as a DNS SAN because a bare-name dial
// verifies the server against the service name.
const podwireService = "echo"

// podwireRows lists the rows that run the podwire SDK: transport.Listen and
// transport.ServerOptions on the server, transport.Dial on the client.
func podwireRows() []rowSpec {
	return []rowSpec{
		{Row{ID: "podwire-uds", Transport: "uds", Family: FamilyPodwire, Twin: "grpc-uds", TCPPeer: "podwire-tcp"}, startPodwireUDS},
		{Row{ID: "podwire-tcp", Transport: "tcp", Family: FamilyPodwire, Twin: "grpc-tcp"}, startPodwireTCP},
		{Row{ID: "podwire-tls", Transport: "tls", Family: FamilyPodwire, Twin: "grpc-tls"}, startPodwireTLS},
		{Row{ID: "podwire-mux-tls", Transport: "mux+tls", Family: FamilyPodwire, Twin: "grpc-tls", OpensChannels: true}, startPodwireMux},
	}
}

func startPodwireUDS(ctx context.Context, e *env) (*instance, error) {
	pl := podwireListen{Service: "podwire-uds", SocketDir: e.dir}
	return startPodwire(ctx, e, pl, transport.KindUnix, func(a serverAddrs) (string, []transport.DialOption) {
		return "unix://" + a.SocketPath, nil
	})
}

func startPodwireTCP(ctx context.Context, e *env) (*instance, error) {
	pl := podwireListen{Service: "podwire-tcp", SocketDir: e.dir, NoUnix: true, PlainAddr: "127.0.0.1:0"}
	return startPodwire(ctx, e, pl, transport.KindTCP, func(a serverAddrs) (string, []transport.DialOption) {
		return "tcp://" + a.PlainAddr, []transport.DialOption{transport.WithInsecureLoopback()}
	})
}

func startPodwireTLS(ctx context.Context, e *env) (*instance, error) {
	return startPodwire(ctx, e, e.podwireTLSListen("podwire-tls"), transport.KindTLS, func(a serverAddrs) (string, []transport.DialOption) {
		return "tls://" + a.TLSAddr, []transport.DialOption{e.podwireTLSFiles()}
	})
}

// startPodwireMux dials the bare service name with WithPeerAddr and an
// empty socket dir, which is how a podwire client reaches a remote peer:
// over a mux stream on a pooled TCP+TLS session.
func startPodwireMux(ctx context.Context, e *env) (*instance, error) {
	emptyDir := filepath.Join(e.dir, "no-sockets")
	if err := os.MkdirAll(emptyDir, 0o750); err != nil {
		return nil, fmt.Errorf("socket dir for the mux row: %w", err)
	}
	in, err := startPodwire(ctx, e, e.podwireTLSListen(podwireService), transport.KindMuxTLS, func(a serverAddrs) (string, []transport.DialOption) {
		return podwireService, []transport.DialOption{
			e.podwireTLSFiles(),
			transport.WithSocketDir(emptyDir),
			transport.WithPeerAddr(podwireService, a.TLSAddr),
		}
	})
	if err != nil {
		return nil, err
	}
	if err := attachMuxChannels(ctx, e, in, in.tlsAddr); err != nil {
		return nil, errors.Join(fmt.Errorf("mux pool for channel_open: %w", err), in.close())
	}
	return in, nil
}

// attachMuxChannels gives the mux row its channel_open: a mux.Pool of its
// own, made live with one stream, whose every new channel is a stream on
// that session carrying the podwire.wire.v1 header the listener accepts
// (the same exchange transport.Dial makes for a bare name).
func attachMuxChannels(ctx context.Context, e *env, in *instance, addr string) error {
	conf := e.pki.clientTLS()
	conf.NextProtos = []string{transport.ALPNMux}
	conf.ServerName = podwireService
	pc := mux.DefaultPoolConfig()
	pc.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
		d := tls.Dialer{Config: conf}
		return d.DialContext(ctx, "tcp", addr)
	}
	pc.Session.Logger = e.logger
	pool, err := mux.NewPool(pc)
	if err != nil {
		return err
	}
	in.onClose(pool.Close)
	header := &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: podwireService, Payload: wirev1.Payload_PAYLOAD_GRPC}
	in.openChannel = func(ctx context.Context) (net.Conn, error) {
		return pool.DialService(ctx, addr, header)
	}
	c, err := in.openChannel(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

// podwireTLSListen is a TLS-only listener on a loopback port for service.
func (e *env) podwireTLSListen(service string) podwireListen {
	return podwireListen{Service: service, SocketDir: e.dir, NoUnix: true, TLSAddr: "127.0.0.1:0"}
}

func (e *env) podwireTLSFiles() transport.DialOption {
	return transport.WithTLSFiles(e.pki.clientCert, e.pki.clientKey, e.pki.caFile)
}

// startPodwire serves the echo service on a podwire listener, dials it with
// transport.Dial, and checks that the first call travelled over want: a row
// whose traffic takes another path than its name says is reported missing
// rather than measured under the wrong label.
func startPodwire(ctx context.Context, e *env, pl podwireListen, want transport.Kind,
	target func(serverAddrs) (string, []transport.DialOption)) (*instance, error) {
	in := &instance{}
	addrs, err := e.startServer(ctx, in, serverSpec{Kind: serverPodwire, Podwire: &pl})
	if err != nil {
		return nil, errors.Join(err, in.close())
	}
	in.tlsAddr = addrs.TLSAddr
	tgt, dopts := target(addrs)
	dopts = append(dopts, transport.WithLogger(e.logger), transport.WithGRPCOptions(messageSizeDialOption()))
	in.newConn = func(ctx context.Context) (*grpc.ClientConn, error) {
		return transport.Dial(ctx, tgt, dopts...)
	}
	if err := in.connect(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("transport.Dial %s: %w", tgt, err), in.close())
	}
	if err := checkKind(ctx, in.conn, want); err != nil {
		return nil, errors.Join(err, in.close())
	}
	return in, nil
}

// checkKind makes one call and compares the transport podwire reports with want.
func checkKind(ctx context.Context, cc *grpc.ClientConn, want transport.Kind) error {
	var p peer.Peer
	if err := cc.Invoke(ctx, methodUnary, wrapBytes(make([]byte, smallPayload)), wrapBytes(nil), grpc.Peer(&p)); err != nil {
		return fmt.Errorf("kind check call: %w", err)
	}
	got, ok := transport.PeerOf(&p)
	switch {
	case !ok:
		return fmt.Errorf("%w: the connection carries no podwire peer info, so its transport cannot be confirmed", errUnavailable)
	case got.Transport != want:
		return fmt.Errorf("%w: traffic went over %s, not %s (that path is not in this build)", errUnavailable, got.Transport, want)
	}
	return nil
}
