package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// sidecarRows lists the sidecar-pair row: the app calls plain gRPC on
// <dir A>/echo.sock; sidecar A carries each connection as a mux stream over
// mTLS to sidecar B, which connects it to the echo server on
// <dir B>/echo.sock. Neither app links podwire code. As deployed, the echo
// server and each sidecar are processes of their own, the sidecars started
// from YAML config files like `podwire sidecar --config FILE`.
func sidecarRows() []rowSpec {
	return []rowSpec{
		{Row{ID: "sidecar", Transport: "sidecar", Family: FamilySidecar, Twin: "grpc-tls"}, startSidecarPair},
	}
}

// pairDirs makes the socket dirs of the two pods of a proxy pair row.
func (e *env) pairDirs(row string) (a, b string, err error) {
	a, b = filepath.Join(e.dir, row+"-a"), filepath.Join(e.dir, row+"-b")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return "", "", fmt.Errorf("socket dir for a proxy pair: %w", err)
		}
	}
	return a, b, nil
}

// freeLoopbackPort returns a loopback address with a port that was free a
// moment ago, for peers that must know it before they start.
func freeLoopbackPort(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a loopback port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// startPairApp starts the echo server behind the far proxy of a pair (bare
// grpc-go on <dirB>/echo.sock) and returns the instance to fill.
func startPairApp(ctx context.Context, e *env, dirB string) (*instance, error) {
	in := &instance{}
	spec := serverSpec{Kind: serverGRPC, Network: "unix", Addr: filepath.Join(dirB, podwireService+".sock")}
	if _, err := e.startServer(ctx, in, spec); err != nil {
		return nil, errors.Join(fmt.Errorf("app behind the pair: %w", err), in.close())
	}
	return in, nil
}

// connectPair dials the near proxy's socket with plain grpc-go, as the app
// in front of a pair does.
func connectPair(ctx context.Context, in *instance, dirA string) error {
	target := "unix://" + filepath.Join(dirA, podwireService+".sock")
	in.newConn = func(context.Context) (*grpc.ClientConn, error) {
		return grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()), messageSizeDialOption())
	}
	if err := in.connect(ctx); err != nil {
		return fmt.Errorf("call through the pair: %w", err)
	}
	return nil
}

func startSidecarPair(ctx context.Context, e *env) (*instance, error) {
	dirA, dirB, err := e.pairDirs("sidecar")
	if err != nil {
		return nil, err
	}
	listen, err := freeLoopbackPort(ctx)
	if err != nil {
		return nil, err
	}
	in, err := startPairApp(ctx, e, dirB)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*instance, error) { return nil, errors.Join(err, in.close()) }
	p := e.pki
	cfgB := fmt.Sprintf(`socket_dir: %s
listen: %s
admin: unix:%s
drain_timeout: 1s
tls: {cert: %s, key: %s, ca: %s}
services:
  - name: %s
`, dirB, listen, filepath.Join(dirB, adminSocket), p.serverCert, p.serverKey, p.caFile, podwireService)
	if err := e.startSidecar(ctx, in, "sidecar B", filepath.Join(dirB, "sidecar.yaml"), cfgB); err != nil {
		return fail(fmt.Errorf("sidecar B: %w", err))
	}
	cfgA := fmt.Sprintf(`socket_dir: %s
admin: unix:%s
drain_timeout: 1s
tls: {cert: %s, key: %s, ca: %s}
upstreams:
  - name: %s
    address: %s
    server_name: localhost
`, dirA, filepath.Join(dirA, adminSocket), p.clientCert, p.clientKey, p.caFile, podwireService, listen)
	if err := e.startSidecar(ctx, in, "sidecar A", filepath.Join(dirA, "sidecar.yaml"), cfgA); err != nil {
		return fail(fmt.Errorf("sidecar A: %w", err))
	}
	if err := connectPair(ctx, in, dirA); err != nil {
		return fail(err)
	}
	return in, nil
}

// adminSocket is the file name of a sidecar's admin socket in its socket dir.
const adminSocket = "podwire-admin.sock"

// startSidecar writes the config file and starts one sidecar from it: in
// this process (inprocess) or as its own process, `podwire sidecar
// --config FILE` (deployed), waiting until its /readyz answers 200.
func (e *env) startSidecar(ctx context.Context, in *instance, role, path, yaml string) error {
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return fmt.Errorf("write sidecar config: %w", err)
	}
	if e.placement == PlacementInProcess {
		_, stop, err := serve(ctx, serverSpec{Kind: serverSidecar, SidecarConfig: path}, e.logger)
		if err != nil {
			return err
		}
		in.onClose(stop)
		return nil
	}
	argv := append([]string{e.launch.exe}, e.launch.sidecarArgs...)
	var env []string
	if len(e.launch.sidecarArgs) > 0 {
		argv = append(argv, path)
	} else {
		argv = append(argv, e.launch.childArgs...)
		b, err := json.Marshal(serverSpec{Kind: kindSidecarRun, SidecarConfig: path})
		if err != nil {
			return fmt.Errorf("encode sidecar child: %w", err)
		}
		env = []string{ChildEnv + "=" + string(b)}
	}
	p, err := startProc(role, argv, env, false)
	if err != nil {
		return err
	}
	p.admin = filepath.Join(filepath.Dir(path), adminSocket)
	in.addProc(p)
	return waitSidecarReady(ctx, p)
}
