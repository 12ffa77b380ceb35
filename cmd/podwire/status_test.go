package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podwire/podwire/internal/statusapi"
	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
)

// startInventory runs inventory in-process with a TLS port and an admin
// endpoint and returns its addresses; the test's cleanup stops it.
func startInventory(t *testing.T) (host.Addrs, string) {
	t.Helper()
	dir := t.TempDir()
	sockDir := filepath.Join(dir, "run")
	certDir := filepath.Join(dir, "certs")
	if got := mainCode(context.Background(), []string{"certs", "--out", certDir, "--service", "inventory"}, new(bytes.Buffer), new(bytes.Buffer)); got != 0 {
		t.Fatalf("podwire certs exit %d", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan host.Addrs, 1)
	done := make(chan error, 1)
	cfg := host.Config{SocketDir: sockDir, DataPath: filepath.Join(dir, "inv.db"), AdminAddr: "127.0.0.1:0", TLSListen: "127.0.0.1:0",
		CertFile: filepath.Join(certDir, "inventory.crt"), KeyFile: filepath.Join(certDir, "inventory.key"), CAFile: filepath.Join(certDir, "ca.crt")}
	go func() { done <- inventory.Run(ctx, cfg, func(a host.Addrs) { addrs <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("inventory.Run: %v", err)
		}
	})
	select {
	case a := <-addrs:
		return a, sockDir
	case err := <-done:
		t.Fatalf("inventory.Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("inventory did not start within 20s")
	}
	return host.Addrs{}, ""
}

// TestStatusOfServe: `podwire status --json` reads a `serve` admin's
// /debug/sessions; a script can parse the JSON and finds the service, its
// socket and TLS port; the text form names the service.
func TestStatusOfServe(t *testing.T) {
	clearPodwireEnv(t)
	addrs, sockDir := startInventory(t)
	var stdout, stderr bytes.Buffer
	args := []string{"status", "--admin", addrs.Admin.String(), "--socket-dir", sockDir, "--json"}
	if got := mainCode(context.Background(), args, &stdout, &stderr); got != 0 {
		t.Fatalf("podwire %q exit %d; stderr: %s", args, got, stderr.String())
	}
	var rep struct {
		Sockets []struct {
			Path string `json:"Path"`
			Live bool   `json:"Live"`
		} `json:"sockets"`
		Admins []struct {
			Admin    string              `json:"admin"`
			Snapshot *statusapi.Snapshot `json:"snapshot"`
			Error    string              `json:"error"`
		} `json:"admins"`
	}
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("status --json is not the documented JSON: %v", err)
	}
	if len(rep.Admins) != 1 || rep.Admins[0].Snapshot == nil {
		t.Fatalf("admins = %+v, want one snapshot", rep.Admins)
	}
	snap := rep.Admins[0].Snapshot
	if snap.Kind != statusapi.KindService || snap.Service != "inventory" || !snap.Ready {
		t.Errorf("snapshot kind %q service %q ready %v, want service inventory ready", snap.Kind, snap.Service, snap.Ready)
	}
	roles := map[string]string{}
	for _, l := range snap.Listeners {
		roles[l.Role] = l.Address
	}
	if roles["service"] != addrs.Socket || roles["tls"] != addrs.TLS.String() || roles["admin"] != addrs.Admin.String() {
		t.Errorf("listeners = %v, want service %s, tls %s, admin %s", roles, addrs.Socket, addrs.TLS, addrs.Admin)
	}
	if len(rep.Sockets) != 1 || rep.Sockets[0].Path != addrs.Socket || !rep.Sockets[0].Live {
		t.Errorf("sockets = %+v, want %s live", rep.Sockets, addrs.Socket)
	}

	stdout.Reset()
	if got := mainCode(context.Background(), []string{"status", "--admin", addrs.Admin.String()}, &stdout, &stderr); got != 0 {
		t.Fatalf("podwire status exit %d; stderr: %s", got, stderr.String())
	}
	if !strings.Contains(stdout.String(), "SERVICE inventory") || !strings.Contains(stdout.String(), "ready: yes") {
		t.Errorf("status text = %q, want SERVICE inventory ... ready: yes", stdout.String())
	}
}

// TestStatusUnreachable: an admin that does not answer is a runtime error
// (exit 1) on one line; --json still prints the report with the error.
func TestStatusUnreachable(t *testing.T) {
	clearPodwireEnv(t)
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, extra := range [][]string{nil, {"--json"}} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"status", "--admin", "unix:" + sock, "--timeout", "500ms"}, extra...)
		if got := mainCode(context.Background(), args, &stdout, &stderr); got != 1 {
			t.Errorf("podwire %q exit %d, want 1", args, got)
		}
		if n := strings.Count(strings.TrimRight(stderr.String(), "\n"), "\n"); n != 0 || !strings.Contains(stderr.String(), "unreachable") {
			t.Errorf("stderr = %q, want one line saying unreachable", stderr.String())
		}
		if extra != nil && !json.Valid(stdout.Bytes()) {
			t.Errorf("--json output is not JSON: %q", stdout.String())
		}
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("status created %s", sock)
	}
}
