package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestMainCode(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"no args prints help", nil, 2, "Commands:"},
		{"help", []string{"help"}, 0, "Commands:"},
		{"version", []string{"version"}, 0, "podwire "},
		{"unknown", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got := mainCode(context.Background(), tt.args, &out, &out)
			if got != tt.wantCode {
				t.Errorf("mainCode(%q) = %d, want %d; output:\n%s", tt.args, got, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("mainCode(%q) output = %q, want it to contain %q", tt.args, out.String(), tt.wantOut)
			}
		})
	}
}
