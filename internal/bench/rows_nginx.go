package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// nginxRows lists the nginx-pair row: what a user would deploy instead of
// the sidecar pair. The app calls plain gRPC on <dir A>/echo.sock; nginx A
// (stream module) carries each connection over TLS 1.3 with a client
// certificate to nginx B, which connects it to the echo server on
// <dir B>/echo.sock. Each nginx is one process (master_process off,
// otherwise stock settings). On Debian: apt-get install nginx
// libnginx-mod-stream.
func nginxRows() []rowSpec {
	return []rowSpec{
		{Row{ID: "nginx-pair", Transport: "nginx", Family: FamilyExternal, Twin: "grpc-tls"}, startNginxPair},
	}
}

// nginxModuleDirs are where distributions put ngx_stream_module.so.
var nginxModuleDirs = []string{"/usr/lib/nginx/modules", "/usr/lib64/nginx/modules", "/usr/share/nginx/modules", "/etc/nginx/modules"}

// findNginx returns the nginx binary and the load_module line its stream
// module needs ("" when built in), or why the row cannot run.
func findNginx(ctx context.Context) (bin, loadModule string, err error) {
	bin, err = exec.LookPath("nginx")
	if err != nil {
		return "", "", fmt.Errorf("%w: nginx is not installed (Debian: apt-get install nginx libnginx-mod-stream)", errUnavailable)
	}
	out, err := exec.CommandContext(ctx, bin, "-V").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("%w: %s -V: %v", errUnavailable, bin, err)
	}
	v := string(out)
	switch {
	case strings.Contains(v, "--with-stream=dynamic"):
		for _, d := range nginxModuleDirs {
			so := filepath.Join(d, "ngx_stream_module.so")
			if _, err := os.Stat(so); err == nil {
				return bin, "load_module " + so + ";", nil
			}
		}
		return "", "", fmt.Errorf("%w: nginx builds the stream module as a dynamic module but ngx_stream_module.so is not installed (Debian: apt-get install libnginx-mod-stream)", errUnavailable)
	case strings.Contains(v, "--with-stream "), strings.HasSuffix(strings.TrimSpace(v), "--with-stream"):
		return bin, "", nil
	}
	return "", "", fmt.Errorf("%w: this nginx has no stream module (rebuild with --with-stream, or Debian: apt-get install libnginx-mod-stream)", errUnavailable)
}

// nginxConf is the part of both configs that is the same.
const nginxConf = `%s
daemon off;
master_process off;
worker_processes 1;
pid %s;
error_log %s warn;
events { worker_connections 1024; }
stream {
  server {
%s
  }
}
`

func startNginxPair(ctx context.Context, e *env) (*instance, error) {
	if e.placement == PlacementInProcess {
		return nil, fmt.Errorf("%w: nginx runs as its own processes; the in-process placement has no nginx row", errUnavailable)
	}
	bin, loadModule, err := findNginx(ctx)
	if err != nil {
		return nil, err
	}
	dirA, dirB, err := e.pairDirs("nginx")
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
	serverB := fmt.Sprintf(`    listen %s ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_verify_client on;
    ssl_client_certificate %s;
    proxy_pass unix:%s;`, listen, p.serverCert, p.serverKey, p.caFile, filepath.Join(dirB, podwireService+".sock"))
	if err := startNginx(ctx, in, bin, "nginx B", dirB, fmt.Sprintf(nginxConf, loadModule,
		filepath.Join(dirB, "nginx.pid"), filepath.Join(dirB, "nginx.log"), serverB), "tcp", listen); err != nil {
		return fail(err)
	}
	sockA := filepath.Join(dirA, podwireService+".sock")
	serverA := fmt.Sprintf(`    listen unix:%s;
    proxy_pass %s;
    proxy_ssl on;
    proxy_ssl_protocols TLSv1.3;
    proxy_ssl_certificate %s;
    proxy_ssl_certificate_key %s;
    proxy_ssl_verify on;
    proxy_ssl_trusted_certificate %s;
    proxy_ssl_name localhost;
    proxy_ssl_session_reuse on;`, sockA, listen, p.clientCert, p.clientKey, p.caFile)
	if err := startNginx(ctx, in, bin, "nginx A", dirA, fmt.Sprintf(nginxConf, loadModule,
		filepath.Join(dirA, "nginx.pid"), filepath.Join(dirA, "nginx.log"), serverA), "unix", sockA); err != nil {
		return fail(err)
	}
	if err := connectPair(ctx, in, dirA); err != nil {
		return fail(err)
	}
	return in, nil
}

// startNginx writes conf into dir and runs nginx on it until network/addr
// accepts connections.
func startNginx(ctx context.Context, in *instance, bin, role, dir, conf, network, addr string) error {
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write %s config: %w", role, err)
	}
	p, err := startProc(role, []string{bin, "-p", dir, "-e", filepath.Join(dir, "nginx.log"), "-c", path}, nil, false)
	if err != nil {
		return err
	}
	in.addProc(p)
	ctx, cancel := context.WithTimeout(ctx, procStartTimeout)
	defer cancel()
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "nginx.log"))
			return fmt.Errorf("%w; log: %s", p.exited(), strings.TrimSpace(string(log)))
		case <-ctx.Done():
			return fmt.Errorf("%s does not accept on %s after %v: %v", role, addr, procStartTimeout, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
