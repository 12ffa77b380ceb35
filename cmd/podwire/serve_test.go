package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// clearPodwireEnv unsets every PODWIRE_* variable for the test.
func clearPodwireEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PODWIRE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// TestParseServe checks flags, their PODWIRE_SERVE_* equivalents, that
// the flat PODWIRE_* names of other commands are not read, the --allow
// list forms and the usage errors of `podwire serve`.
func TestParseServe(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantName  string
		wantCfg   string // fmt of the fields that matter
		wantUsage bool
	}{
		{"flags", []string{"inventory", "--socket-dir", "/s", "--data", "/d.db", "--seed"}, nil,
			"inventory", "/s /d.db true [] ", false},
		{"env", []string{"purchase"}, map[string]string{"PODWIRE_SERVE_SOCKET_DIR": "/e", "PODWIRE_SERVE_DATA": "/p.db", "PODWIRE_SERVE_ADMIN": "127.0.0.1:9"},
			"purchase", "/e /p.db false [] 127.0.0.1:9", false},
		{"flag beats env", []string{"purchase", "--data", "/flag.db"}, map[string]string{"PODWIRE_SERVE_DATA": "/env.db"},
			"purchase", " /flag.db false [] ", false},
		// bench's --seed is an int; serve must not read it (issue #11).
		{"PODWIRE_SEED is not serve's", []string{"inventory", "--data", "/d"}, map[string]string{"PODWIRE_SEED": "42"},
			"inventory", " /d false [] ", false},
		// the sidecar's admin form; serve must not read it.
		{"PODWIRE_ADMIN is not serve's", []string{"inventory", "--data", "/d"}, map[string]string{"PODWIRE_ADMIN": "unix:/x", "PODWIRE_DATA": "/flat.db"},
			"inventory", " /d false [] ", false},
		{"allow repeated and comma", []string{"inventory", "--data", "/d", "--allow", "uid:1,gid:2", "--allow", "spiffe://x/y"}, nil,
			"inventory", " /d false [uid:1 gid:2 spiffe://x/y] ", false},
		{"allow from env", []string{"inventory", "--data", "/d"}, map[string]string{"PODWIRE_SERVE_ALLOW": "uid:7, dns:purchase"},
			"inventory", " /d false [uid:7 dns:purchase] ", false},
		{"name after flags", []string{"--data", "/x", "inventory"}, nil, "inventory", " /x false [] ", false},
		{"no name", []string{"--data", "/x"}, nil, "", "", true},
		{"no data", []string{"inventory"}, nil, "", "", true},
		{"unknown service", []string{"billing", "--data", "/x"}, nil, "", "", true},
		{"extra argument", []string{"inventory", "extra", "--data", "/x"}, nil, "", "", true},
		{"bad log level", []string{"inventory", "--data", "/x", "--log-level", "loud"}, nil, "", "", true},
		{"bad env value", []string{"inventory", "--data", "/x"}, map[string]string{"PODWIRE_SERVE_SEED": "42"}, "", "", true},
		{"admin off loopback", []string{"inventory", "--data", "/x", "--admin", "0.0.0.0:9"}, nil, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearPodwireEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			name, cfg, err := parseServe(tt.args, io.Discard, io.Discard)
			if tt.wantUsage {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("parseServe(%q) = %v, want a usage error", tt.args, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseServe(%q): %v", tt.args, err)
			}
			got := fmt.Sprintf("%s %s %v %v %s", cfg.SocketDir, cfg.DataPath, cfg.Seed, cfg.Allow, cfg.AdminAddr)
			if name != tt.wantName || got != tt.wantCfg {
				t.Errorf("parseServe(%q) = %q, %q; want %q, %q", tt.args, name, got, tt.wantName, tt.wantCfg)
			}
		})
	}
}
