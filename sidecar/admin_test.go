package sidecar

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podwire/podwire/transport/certs"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestReadiness: A is not ready while its upstream is down and becomes
// ready when a session to it is up; /readyz says why.
func TestReadiness(t *testing.T) {
	pki := newTestPKI(t, "purchase", "inventory")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := DefaultConfig()
	cfg.SocketDir, cfg.Admin, cfg.TLS = shortDir(t), "127.0.0.1:0", pki.files("purchase")
	cfg.Upstreams = []Upstream{{Name: "inventory", Address: addr, ServerName: "inventory"}}
	a := startSidecar(t, cfg)
	time.Sleep(200 * time.Millisecond)
	err = Check(context.Background(), a.AdminAddr(), "readyz", time.Second)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("readyz with the upstream down = %v, want not ready naming %s", err, addr)
	}
	if err := Check(context.Background(), a.AdminAddr(), "healthz", time.Second); err != nil {
		t.Errorf("healthz = %v, want ok", err)
	}
}

// TestStatus renders the admin snapshot and the socket dir scan.
func TestStatus(t *testing.T) {
	p := newPair(t, pairOpts{})
	waitReady(t, p.a)
	var buf bytes.Buffer
	if err := Status(context.Background(), &buf, StatusOptions{Admin: p.a.AdminAddr(), SocketDir: p.dirA}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		filepath.Join(p.dirA, "inventory.sock"), "srw-rw----", "live",
		"upstream", "inventory", p.b.InboundAddr(), "outbound", "mux+tls", "spiffe://podwire.local/inventory", "ready: yes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	// A is ready once its outbound session is up; B registers the same
	// session when its accept loop gets to it, a moment later.
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf.Reset()
		if err := Status(context.Background(), &buf, StatusOptions{Admin: p.b.AdminAddr()}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "inbound") && strings.Contains(out, "spiffe://podwire.local/purchase") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B status lacks the inbound session from purchase after 5s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdminUnixSocket: admin on unix:<socket dir>/podwire-admin.sock is
// found by Status with only the socket dir.
func TestAdminUnixSocket(t *testing.T) {
	pki := newTestPKI(t, "inventory")
	dir := shortDir(t)
	cfg := DefaultConfig()
	cfg.SocketDir, cfg.Listen, cfg.TLS = dir, "127.0.0.1:0", pki.files("inventory")
	cfg.Admin = "unix:" + filepath.Join(dir, adminSocketName)
	cfg.Services = []Service{{Name: "inventory"}}
	startSidecar(t, cfg)
	var buf bytes.Buffer
	if err := Status(context.Background(), &buf, StatusOptions{SocketDir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sidecar admin", "SIDECAR  admin unix:" + filepath.Join(dir, adminSocketName), "ready: yes", "inbound"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestAdminEndpoints: /metrics carries the sidecar and mux collectors
// after traffic, /debug/sessions is JSON, unknown paths are 404.
func TestAdminEndpoints(t *testing.T) {
	p := newPair(t, pairOpts{})
	waitReady(t, p.a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(p.dialApp(t)).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + p.a.AdminAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`podwire_sidecar_streams_total{direction="outbound",service="inventory"} 1`,
		`podwire_sidecar_ready 1`,
		"podwire_mux_",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, body = get("/debug/sessions")
	var snap Snapshot
	if err := json.Unmarshal([]byte(body), &snap); code != http.StatusOK || err != nil {
		t.Fatalf("/debug/sessions = %d, %v", code, err)
	}
	if !snap.Ready || len(snap.Sessions) != 1 || snap.Sessions[0].Peer != "spiffe://podwire.local/inventory" {
		t.Errorf("/debug/sessions = %+v, want ready with one session to inventory", snap)
	}
	if code, _ := get("/nope"); code != http.StatusNotFound {
		t.Errorf("/nope = %d, want 404", code)
	}
}

// TestCertRotation: new handshakes present rewritten certificate files;
// the live session keeps working.
func TestCertRotation(t *testing.T) {
	p := newPair(t, pairOpts{})
	waitReady(t, p.a)
	serial := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", p.b.InboundAddr(), p.pki.clientTLS(t, "purchase", "inventory"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	if err := certs.Write(p.pki.dir, []string{"inventory"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for serial() == before {
		if time.Now().After(deadline) {
			t.Fatalf("B still presents serial %s 5s after its files were rewritten, want a new one", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(p.dialApp(t)).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("call after rotation: %v", err)
	}
}

// TestScanSocketDir: live and stale sockets are told apart; the admin
// socket is flagged; Status says when no sidecar admin is there.
func TestScanSocketDir(t *testing.T) {
	dir := shortDir(t)
	live, err := net.Listen("unix", filepath.Join(dir, "live.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	stale, err := net.Listen("unix", filepath.Join(dir, adminSocketName))
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	socks, err := ScanSocketDir(context.Background(), dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]bool{}
	for _, s := range socks {
		got[filepath.Base(s.Path)] = [2]bool{s.Live, s.Admin}
	}
	want := map[string][2]bool{"live.sock": {true, false}, adminSocketName: {false, true}}
	if len(got) != len(want) || got["live.sock"] != want["live.sock"] || got[adminSocketName] != want[adminSocketName] {
		t.Errorf("scan = %v, want %v (live, admin)", got, want)
	}
	var buf bytes.Buffer
	if err := Status(context.Background(), &buf, StatusOptions{SocketDir: dir}); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "stale (sidecar admin)") || !strings.Contains(out, "no live "+adminSocketName) {
		t.Errorf("status output:\n%s\nwant the stale admin socket and a hint", out)
	}
	if _, err := ScanSocketDir(context.Background(), filepath.Join(dir, "missing"), time.Second); err == nil {
		t.Error("scan of a missing dir succeeded")
	}
}
