package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
)

// TestPeerAddressPrecedence: for a bare name with no live socket, an
// explicit WithPeerAddr wins over PODWIRE_PEER_<NAME>, which wins over the
// DNS template; with none of them the error says how to set each.
func TestPeerAddressPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		env        string // PODWIRE_PEER_INVENTORY
		envTmpl    string // PODWIRE_PEER_TEMPLATE
		opts       []DialOption
		wantAddr   string
		wantReason string
	}{
		{"option", "127.0.0.1:2", "{service}.shop.svc:15443", []DialOption{WithPeerAddr("inventory", "127.0.0.1:1")}, "127.0.0.1:1", "peer_option"},
		{"env over template", "127.0.0.1:2", "{service}.shop.svc:15443", nil, "127.0.0.1:2", "peer_env"},
		{"env template", "", "{service}.shop.svc:15443", nil, "inventory.shop.svc:15443", "peer_template"},
		{"option template over env template", "", "{service}.a:1", []DialOption{WithPeerTemplate("{service}.b.svc.cluster.local:15443")}, "inventory.b.svc.cluster.local:15443", "peer_template"},
		{"none", "", "", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PODWIRE_PEER_INVENTORY", tt.env)
			t.Setenv(PeerTemplateEnv, tt.envTmpl)
			opts := append([]DialOption{WithSocketDir(t.TempDir()), WithTLSConfig(&tls.Config{})}, tt.opts...)
			cfg, err := newDialConfig(opts)
			if err != nil {
				t.Fatal(err)
			}
			r, err := cfg.selectRoute(context.Background(), "inventory")
			if tt.wantAddr == "" {
				var use *UnknownServiceError
				if !errors.As(err, &use) || !strings.Contains(err.Error(), PeerTemplateEnv) {
					t.Fatalf("selectRoute = %v, want an *UnknownServiceError that mentions %s", err, PeerTemplateEnv)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.detail != tt.wantAddr || r.reason != tt.wantReason {
				t.Errorf("route = %s (%s), want %s (%s)", r.detail, r.reason, tt.wantAddr, tt.wantReason)
			}
		})
	}
}

func TestPeerTemplateErrors(t *testing.T) {
	for _, tmpl := range []string{"inventory.shop:15443", "{service}.shop", "{service}.shop:http", "{service}.shop:0"} {
		if _, err := newDialConfig([]DialOption{WithPeerTemplate(tmpl)}); err == nil {
			t.Errorf("WithPeerTemplate(%q) = nil error, want one (needs {service} and a numeric port)", tmpl)
		}
		t.Setenv(PeerTemplateEnv, tmpl)
		if _, err := newDialConfig(nil); err == nil || !strings.Contains(err.Error(), PeerTemplateEnv) {
			t.Errorf("%s=%q: newDialConfig error = %v, want one naming the variable", PeerTemplateEnv, tmpl, err)
		}
		t.Setenv(PeerTemplateEnv, "")
	}
}
