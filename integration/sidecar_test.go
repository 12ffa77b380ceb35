package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"go.yaml.in/yaml/v3"

	"github.com/podwire/podwire/sidecar"
)

// sidecarPort is the inbound mTLS port of every sidecar in the suite (the
// product default).
const sidecarPort = 15443

// Keepalive of the suite's sidecars: shorter than the product default
// (15 s + 10 s) so the fault tests notice a silent peer in 7 s, through the
// keepalive_interval and keepalive_timeout keys of the sidecar config.
const (
	suiteKeepAliveInterval = 3 * time.Second
	suiteKeepAliveTimeout  = 3 * time.Second
)

// sidecarConfig is the config of a sidecar of pod p with identity leaf,
// admin on the pod's socket dir as adminName.
func sidecarConfig(leaf, adminName string) sidecar.Config {
	c := sidecar.DefaultConfig()
	c.Admin = "unix:/run/podwire/" + adminName
	c.Listen = fmt.Sprintf(":%d", sidecarPort)
	c.KeepAliveInterval, c.KeepAliveTimeout = suiteKeepAliveInterval, suiteKeepAliveTimeout
	c.TLS = sidecar.TLSFiles{
		Cert: tlsMountPath + "/" + leaf + ".crt",
		Key:  tlsMountPath + "/" + leaf + ".key",
		CA:   tlsMountPath + "/ca.crt",
	}
	return c
}

// sidecarSpec is one sidecar container of a pod.
type sidecarSpec struct {
	name    string // container name in logs
	conf    sidecar.Config
	tlsDir  string
	opts    []testcontainers.ContainerCustomizer // network, aliases
	timeout time.Duration                        // readiness wait; default 30s
}

// startSidecar writes spec.conf to a file, mounts it read-only with the
// pod's directories and the TLS files, runs `podwire sidecar` and waits
// until its /readyz answers 200.
func (p *pod) startSidecar(t testing.TB, spec sidecarSpec) testcontainers.Container {
	t.Helper()
	raw, err := yaml.Marshal(spec.conf)
	if err != nil {
		t.Fatalf("encoding the %s config: %v", spec.name, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sidecar.yaml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	readableByRuntime(t, dir)
	opts := append([]testcontainers.ContainerCustomizer{
		p.mounts(), tlsFiles(spec.tlsDir),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.Binds = append(hc.Binds, dir+":/etc/podwire/sidecar:ro")
		}),
	}, spec.opts...)
	ctr := start(t, podSpec{
		name: spec.name,
		args: []string{"sidecar", "--config", "/etc/podwire/sidecar/sidecar.yaml", "--log-format", "text"},
		opts: opts,
	})
	timeout := spec.timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	p.waitReady(t, spec.conf.Admin, timeout)
	return ctr
}

// adminPath is the host path of a sidecar's "unix:/run/podwire/NAME" admin.
func (p *pod) adminPath(admin string) string {
	return filepath.Join(p.sockDir, filepath.Base(admin))
}

// adminGet GETs path from the sidecar admin at admin ("unix:/run/podwire/x").
func (p *pod) adminGet(ctx context.Context, admin, path string) (int, []byte, error) {
	sock := p.adminPath(admin)
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://admin"+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// waitReady waits until the sidecar's /readyz answers 200.
func (p *pod) waitReady(t testing.TB, admin string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		code, body, err := p.adminGet(ctx, admin, "/readyz")
		if err == nil && code == http.StatusOK {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sidecar admin %s not ready after %s: code %d, body %q, err %v", p.adminPath(admin), timeout, code, body, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// snapshot reads the sidecar's /debug/sessions.
func (p *pod) snapshot(t testing.TB, admin string) sidecar.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body, err := p.adminGet(ctx, admin, "/debug/sessions")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /debug/sessions on %s: code %d, err %v, body %q", p.adminPath(admin), code, err, body)
	}
	var s sidecar.Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("decoding /debug/sessions: %v\n%s", err, body)
	}
	return s
}

// inboundFrom returns the inbound sessions whose peer has SPIFFE ID id.
func inboundFrom(s sidecar.Snapshot, id string) []sidecar.SessionInfo {
	var out []sidecar.SessionInfo
	for _, si := range s.Sessions {
		if si.Direction == "inbound" && si.SPIFFEID == id {
			out = append(out, si)
		}
	}
	return out
}
