//go:build unix

package sidecar

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestGOMAXPROCSDecision(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	tests := []struct {
		name    string
		key     int
		env     map[string]string
		want    int
		wantSrc string
	}{
		{"default", 0, nil, min(DefaultGOMAXPROCS, 2), "default"},
		{"operator's GOMAXPROCS stands", 0, map[string]string{"GOMAXPROCS": "2"}, 2, "GOMAXPROCS environment variable"},
		{"unparsable GOMAXPROCS is the runtime's business; default applies", 0, map[string]string{"GOMAXPROCS": "lots"}, min(DefaultGOMAXPROCS, 2), "default"},
		{"explicit key wins over GOMAXPROCS", 3, map[string]string{"GOMAXPROCS": "2"}, 3, "config gomaxprocs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.GOMAXPROCS = tt.key
			got, src := c.gomaxprocs(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got != tt.want || src != tt.wantSrc {
				t.Errorf("gomaxprocs() = %d (%s), want %d (%s)", got, src, tt.want, tt.wantSrc)
			}
		})
	}
}

func TestGOMAXPROCSKey(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader("gomaxprocs: 2\n"))
	if err != nil || cfg.GOMAXPROCS != 2 {
		t.Fatalf("ParseConfig(gomaxprocs: 2) = %d, %v; want 2, nil", cfg.GOMAXPROCS, err)
	}
	env := map[string]string{"PODWIRE_GOMAXPROCS": "1"}
	if err := cfg.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil || cfg.GOMAXPROCS != 1 {
		t.Errorf("PODWIRE_GOMAXPROCS=1 over the file: %d, %v; want 1, nil", cfg.GOMAXPROCS, err)
	}
	env["PODWIRE_GOMAXPROCS"] = "two"
	if err := cfg.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || !strings.Contains(err.Error(), "PODWIRE_GOMAXPROCS") {
		t.Errorf("PODWIRE_GOMAXPROCS=two: err %v, want one naming the variable", err)
	}
	cfg.GOMAXPROCS = -1
	cfg.Upstreams = []Upstream{{Name: "inventory", Address: "inventory:15443"}}
	cfg.TLS = TLSFiles{Cert: "/c.pem", Key: "/k.pem", CA: "/ca.pem"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "gomaxprocs") {
		t.Errorf("Validate(gomaxprocs: -1) = %v, want an error naming gomaxprocs", err)
	}
}

// TestRunAppliesGOMAXPROCS reads back, through the admin snapshot, the
// GOMAXPROCS that Run applied: the default and an explicit key. A Run
// that stopped applying it fails here.
func TestRunAppliesGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	p := newPair(t, pairOpts{rawEcho: true})
	for _, tt := range []struct {
		key, want int
	}{{0, min(DefaultGOMAXPROCS, runtime.NumCPU())}, {2, 2}} {
		runtime.GOMAXPROCS(runtime.NumCPU())
		t.Setenv("GOMAXPROCS", "")
		dir := shortDir(t)
		cfg := DefaultConfig()
		cfg.SocketDir, cfg.TLS = dir, p.pki.files("purchase")
		cfg.Admin = "unix:" + filepath.Join(dir, adminSocketName)
		cfg.Upstreams = []Upstream{{Name: "inventory", Address: p.b.InboundAddr(), ServerName: "inventory"}}
		cfg.GOMAXPROCS = tt.key
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, cfg, WithMuxConfig(testMuxConfig())) }()
		deadline := time.Now().Add(10 * time.Second)
		for Check(context.Background(), cfg.Admin, "readyz", time.Second) != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		snap, err := FetchSnapshot(context.Background(), cfg.Admin, 5*time.Second)
		cancel()
		if rerr := <-done; rerr != nil {
			t.Errorf("Run = %v", rerr)
		}
		if err != nil {
			t.Fatalf("gomaxprocs %d: snapshot: %v", tt.key, err)
		}
		if snap.Runtime.GOMAXPROCS != tt.want || snap.Runtime.Goroutines == 0 {
			t.Errorf("gomaxprocs key %d: snapshot runtime = %+v, want gomaxprocs %d", tt.key, snap.Runtime, tt.want)
		}
	}
}
