package sidecar

import (
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startAppAdmin serves a fake app admin on a Unix socket at path: /metrics
// answers body, everything else 404.
func startAppAdmin(t testing.TB, path, body string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, body+" accept="+r.Header.Get("Accept")+"\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

// get fetches url and returns the status code and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsListen: metrics_listen serves the sidecar's /metrics and the
// app's under /metrics/app, and nothing of the admin endpoint.
func TestMetricsListen(t *testing.T) {
	pki := newTestPKI(t, "inventory")
	dir := shortDir(t)
	appSock := filepath.Join(dir, "inventory-admin.sock")
	startAppAdmin(t, appSock, "app_metric 42")
	tests := []struct {
		name     string
		appAdmin string
		path     string
		code     int
		want     string
	}{
		{"sidecar metrics", "unix:" + appSock, "/metrics", 200, "podwire_sidecar_ready 1"},
		{"app metrics", "unix:" + appSock, "/metrics/app", 200, "app_metric 42 accept=text/plain"},
		{"no admin endpoints", "unix:" + appSock, "/debug/sessions", 404, ""},
		{"no readyz", "unix:" + appSock, "/readyz", 404, ""},
		{"app admin not configured", "", "/metrics/app", 404, "no app_admin"},
		{"app admin down", "unix:" + filepath.Join(dir, "gone.sock"), "/metrics/app", 502, "app admin unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SocketDir, cfg.Admin, cfg.TLS, cfg.Listen = dir, "127.0.0.1:0", pki.files("inventory"), "127.0.0.1:0"
			cfg.MetricsListen, cfg.AppAdmin = "127.0.0.1:0", tt.appAdmin
			cfg.Services = []Service{{Name: "inventory"}}
			s := startSidecar(t, cfg)
			if s.MetricsAddr() == "" || s.MetricsAddr() == s.AdminAddr() {
				t.Fatalf("MetricsAddr = %q (admin %q), want a listener of its own", s.MetricsAddr(), s.AdminAddr())
			}
			code, body := get(t, "http://"+s.MetricsAddr()+tt.path)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("GET %s = %d %.200q, want %d with %q", tt.path, code, body, tt.code, tt.want)
			}
		})
	}
}

func TestMetricsConfigValidate(t *testing.T) {
	tests := []struct {
		name       string
		listen     string
		appAdmin   string
		wantField  string
		wantReason string
	}{
		{"off", "", "", "", ""},
		{"pod port", ":15090", "unix:/run/podwire/inventory-admin.sock", "", ""},
		{"loopback app admin", "0.0.0.0:15090", "127.0.0.1:9090", "", ""},
		{"no port", "15090", "", "metrics_listen", "not host:port"},
		{"relative app socket", ":15090", "unix:app.sock", "app_admin", "absolute"},
		{"public app admin", ":15090", "10.0.0.1:9090", "app_admin", "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Upstreams = []Upstream{{Name: "inventory", Address: "inventory:15443"}}
			cfg.TLS = TLSFiles{Cert: "/c", Key: "/k", CA: "/ca"}
			cfg.MetricsListen, cfg.AppAdmin = tt.listen, tt.appAdmin
			err := cfg.validateMetrics()
			var ce *ConfigError
			if tt.wantField == "" {
				if err != nil {
					t.Errorf("validateMetrics = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &ce) || ce.Field != tt.wantField || !strings.Contains(ce.Reason, tt.wantReason) {
				t.Errorf("validateMetrics = %v, want a ConfigError on %s mentioning %q", err, tt.wantField, tt.wantReason)
			}
		})
	}
	cfg, err := ParseConfig(strings.NewReader("metrics_listen: \":15090\"\napp_admin: unix:/run/podwire/inventory-admin.sock\n"))
	if err != nil || cfg.MetricsListen != ":15090" || cfg.AppAdmin != "unix:/run/podwire/inventory-admin.sock" {
		t.Errorf("ParseConfig = %+v, %v; want metrics_listen and app_admin read", cfg, err)
	}
	if err := cfg.ApplyEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"PODWIRE_METRICS_LISTEN": ":9999", "PODWIRE_APP_ADMIN": "127.0.0.1:1"}[k]
		return v, ok
	}); err != nil || cfg.MetricsListen != ":9999" || cfg.AppAdmin != "127.0.0.1:1" {
		t.Errorf("ApplyEnv = %v: metrics_listen %q app_admin %q, want the variables", err, cfg.MetricsListen, cfg.AppAdmin)
	}
}

// TestHandshakeFailuresCounted: a connection that is not TLS on the
// inbound port shows in podwire_tls_handshake_failures_total{reason}.
func TestHandshakeFailuresCounted(t *testing.T) {
	pki := newTestPKI(t, "inventory")
	cfg := DefaultConfig()
	cfg.SocketDir, cfg.Admin, cfg.TLS, cfg.Listen = shortDir(t), "127.0.0.1:0", pki.files("inventory"), "127.0.0.1:0"
	cfg.Services = []Service{{Name: "inventory"}}
	s := startSidecar(t, cfg)
	c, err := net.Dial("tcp", s.InboundAddr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_, _ = c.Read(make([]byte, 64)) // the sidecar closes it
	c.Close()
	want := `podwire_tls_handshake_failures_total{reason="not_tls"} 1`
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, "http://"+s.AdminAddr()+"/metrics")
		if strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
