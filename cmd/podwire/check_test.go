package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCommand: `podwire check` prints one ✔/✘ line per check, exits 0
// when all pass and 1 (one stderr line) when one fails; --json parses.
func TestCheckCommand(t *testing.T) {
	clearPodwireEnv(t)
	dir := t.TempDir()
	if got := mainCode(context.Background(), []string{"certs", "--out", dir, "--service", "inventory"}, new(bytes.Buffer), new(bytes.Buffer)); got != 0 {
		t.Fatalf("certs exit %d", got)
	}
	sock := filepath.Join(dir, "run")
	if err := os.Mkdir(sock, 0o750); err != nil {
		t.Fatal(err)
	}
	files := []string{"--tls-cert", filepath.Join(dir, "inventory.crt"), "--tls-key", filepath.Join(dir, "inventory.key"), "--tls-ca", filepath.Join(dir, "ca.crt")}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"all pass", append([]string{"--spiffe-id", "spiffe://podwire.local/inventory", "--san", "127.0.0.1", "--socket-dir", sock}, files...),
			0, []string{"✔ certificate chains to the CA", "✔ certificate is valid for 127.0.0.1", "‼ sockets in " + sock, "all 9 checks passed, 1 warnings"}},
		{"wrong spiffe id", append([]string{"--spiffe-id", "spiffe://podwire.local/purchase"}, files...),
			1, []string{"✘ certificate carries the SPIFFE ID spiffe://podwire.local/purchase", "    hint: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := mainCode(context.Background(), append([]string{"check"}, tt.args...), &stdout, &stderr); got != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr: %s", got, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout =\n%s\nwant it to contain %q", stdout.String(), w)
				}
			}
			if tt.wantCode != 0 && strings.Count(strings.TrimRight(stderr.String(), "\n"), "\n") != 0 {
				t.Errorf("stderr = %q, want one line", stderr.String())
			}
			stdout.Reset()
			mainCode(context.Background(), append([]string{"check", "--json"}, tt.args...), &stdout, &stderr)
			var rep struct {
				OK     bool `json:"ok"`
				Checks []struct {
					Check, Status, Detail, Hint string
				} `json:"checks"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.OK != (tt.wantCode == 0) || len(rep.Checks) == 0 {
				t.Errorf("--json = %s (%v), want ok=%v and checks", stdout.String(), err, tt.wantCode == 0)
			}
		})
	}
}
