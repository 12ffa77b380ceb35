package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// badValue is, per subcommand, a flag value the command must refuse as a
// usage error (beyond the --log-level every command has).
var badValue = map[string][]string{
	"bench":   {"--rounds", "abc"},
	"certs":   {"--out", "OUT", "--service", "../evil"},
	"check":   {"--warn-within", "soon"},
	"demo":    {"--orders", "-5"},
	"inject":  {"--image", ""},
	"serve":   {"inventory", "--data", "/x", "--shutdown-timeout", "abc"},
	"sidecar": {"--log-format", "xml"},
	"status":  {"--check", "livez"},
	"version": {"--log-format", "xml"},
}

// TestUsageErrors runs every subcommand with a bad flag, a bad value and an
// extra argument: each exits 2 with exactly one line on stderr that names
// the command, and prints nothing on stdout. -h exits 0 with the help
// (naming the command's environment variables) on stdout.
func TestUsageErrors(t *testing.T) {
	clearPodwireEnv(t)
	for _, c := range commands() {
		val, ok := badValue[c.name]
		if !ok {
			t.Fatalf("no bad value for %q; add one to badValue", c.name)
		}
		for i, v := range val {
			if v == "OUT" {
				val[i] = t.TempDir()
			}
		}
		extra := []string{"extra"}
		if c.name == "serve" {
			extra = []string{"inventory", "--data", "/x", "extra"}
		}
		cases := map[string][]string{
			"bad flag":       {"--no-such-flag"},
			"bad value":      val,
			"bad log level":  {"--log-level", "loud"},
			"extra argument": extra,
		}
		for name, args := range cases {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				got := mainCode(context.Background(), append([]string{c.name}, args...), &stdout, &stderr)
				if got != 2 {
					t.Errorf("podwire %s %q exit = %d, want 2; stderr:\n%s", c.name, args, got, stderr.String())
				}
				lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "podwire "+c.name+": ") {
					t.Errorf("podwire %s %q stderr = %q, want one line starting %q", c.name, args, stderr.String(), "podwire "+c.name+": ")
				}
				if strings.Count(stderr.String(), "podwire/") > 0 {
					t.Errorf("stderr %q names a Go package; want CLI words", stderr.String())
				}
				if stdout.Len() != 0 {
					t.Errorf("podwire %s %q wrote %q to stdout, want nothing", c.name, args, stdout.String())
				}
			})
		}
		t.Run(c.name+"/help", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := mainCode(context.Background(), []string{c.name, "-h"}, &stdout, &stderr); got != 0 {
				t.Errorf("podwire %s -h exit = %d, want 0", c.name, got)
			}
			env := "PODWIRE_" + strings.ToUpper(c.name) + "_LOG_LEVEL"
			if !strings.Contains(stdout.String(), env) || !strings.Contains(stdout.String(), "--log-format") {
				t.Errorf("podwire %s -h = %q, want it to list --log-format and %s", c.name, stdout.String(), env)
			}
			if stderr.Len() != 0 {
				t.Errorf("podwire %s -h wrote %q to stderr", c.name, stderr.String())
			}
		})
	}
}

// TestCLIMessage: runtime errors lose package prefixes and repeated steps.
func TestCLIMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"podwire/certs: write /x/a.crt: open /x/a.crt: permission denied", "write /x/a.crt: open /x/a.crt: permission denied"},
		{"podwire/host: bad configuration: open /d: open /d: is a directory", "bad configuration: open /d: is a directory"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := cliMessage(errString(tt.in)); got != tt.want {
			t.Errorf("cliMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
