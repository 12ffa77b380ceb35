package main

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// TestParseServe checks flags, their PODWIRE_* equivalents, the --allow
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
		{"env", []string{"purchase"}, map[string]string{"PODWIRE_SOCKET_DIR": "/e", "PODWIRE_DATA": "/p.db", "PODWIRE_ADMIN": "127.0.0.1:9"},
			"purchase", "/e /p.db false [] 127.0.0.1:9", false},
		{"flag beats env", []string{"purchase", "--data", "/flag.db"}, map[string]string{"PODWIRE_DATA": "/env.db"},
			"purchase", " /flag.db false [] ", false},
		{"allow repeated and comma", []string{"inventory", "--allow", "uid:1,gid:2", "--allow", "spiffe://x/y"}, nil,
			"inventory", "  false [uid:1 gid:2 spiffe://x/y] ", false},
		{"allow from env", []string{"inventory"}, map[string]string{"PODWIRE_ALLOW": "uid:7, dns:purchase"},
			"inventory", "  false [uid:7 dns:purchase] ", false},
		{"name after flags", []string{"--data", "/x", "inventory"}, nil, "inventory", " /x false [] ", false},
		{"no name", []string{"--data", "/x"}, nil, "", "", true},
		{"unknown service", []string{"billing"}, nil, "", "", true},
		{"extra argument", []string{"inventory", "extra"}, nil, "", "", true},
		{"bad log level", []string{"inventory", "--log-level", "loud"}, nil, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"PODWIRE_SOCKET_DIR", "PODWIRE_DATA", "PODWIRE_ADMIN", "PODWIRE_ALLOW", "PODWIRE_SEED"} {
				t.Setenv(k, tt.env[k])
			}
			name, cfg, err := parseServe(tt.args, io.Discard)
			if tt.wantUsage {
				if !errors.Is(err, errUsage) {
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
