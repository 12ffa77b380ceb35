package sidecar

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

const goodYAML = `
socket_dir: /run/podwire
listen: ":15443"
admin: 127.0.0.1:15000
tls: {cert: /c.pem, key: /k.pem, ca: /ca.pem}
services:
  - name: inventory
    allow: [spiffe://cluster.local/ns/shop/sa/purchase, "dns:*.shop.svc"]
upstreams:
  - name: pricing
    address: pricing.shop.svc:15443
drain_timeout: 30s
`

func TestParseConfigGood(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(goodYAML))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got, want := cfg.DrainTimeout, 30*time.Second; got != want {
		t.Errorf("drain_timeout = %v, want %v", got, want)
	}
	if got, want := cfg.HeaderTimeout, DefaultConfig().HeaderTimeout; got != want {
		t.Errorf("header_timeout = %v, want default %v", got, want)
	}
	if got, want := cfg.Upstreams[0].Address, "pricing.shop.svc:15443"; got != want {
		t.Errorf("upstreams[0].address = %q, want %q", got, want)
	}
	if got, want := len(cfg.Services[0].Allow), 2; got != want {
		t.Errorf("len(services[0].allow) = %d, want %d", got, want)
	}
}

// TestConfigErrors: each bad config fails with an error naming the field.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want string // substring of the error: the field
	}{
		{"typo key", func(s string) string { return strings.Replace(s, "drain_timeout", "drain_timout", 1) }, "drain_timout"},
		{"typo nested key", func(s string) string { return strings.Replace(s, "address:", "adress:", 1) }, "adress"},
		{"relative socket dir", func(s string) string { return strings.Replace(s, "/run/podwire", "run", 1) }, "socket_dir"},
		{"admin not loopback", func(s string) string { return strings.Replace(s, "127.0.0.1:15000", "0.0.0.0:15000", 1) }, "admin"},
		{"admin relative unix", func(s string) string { return strings.Replace(s, "127.0.0.1:15000", "unix:admin.sock", 1) }, "admin"},
		{"bad duration", func(s string) string { return strings.Replace(s, "30s", "30 parsecs", 1) }, "yaml"},
		{"negative duration", func(s string) string { return strings.Replace(s, "30s", "-1s", 1) }, "drain_timeout"},
		{"zero keepalive timeout", func(s string) string { return s + "keepalive_timeout: 0s\n" }, "keepalive_timeout"},
		{"bad service name", func(s string) string { return strings.Replace(s, "name: inventory", "name: Inventory", 1) }, "services[0].name"},
		{"bad allow", func(s string) string {
			return strings.Replace(s, "spiffe://cluster.local", "spiffy://cluster.local", 1)
		}, "services[0].allow[0]"},
		{"uid allow", func(s string) string {
			return strings.Replace(s, "spiffe://cluster.local/ns/shop/sa/purchase", "uid:1000", 1)
		}, "services[0].allow[0]"},
		{"upstream without port", func(s string) string { return strings.Replace(s, "pricing.shop.svc:15443", "pricing.shop.svc", 1) }, "upstreams[0].address"},
		{"upstream payload", func(s string) string {
			return strings.Replace(s, "address: pricing.shop.svc:15443", "address: pricing.shop.svc:15443\n    payload: http", 1)
		}, "upstreams[0].payload"},
		{"upstream bad name", func(s string) string { return strings.Replace(s, "name: pricing", "name: pri_cing", 1) }, "upstreams[0].name"},
		{"admin name clash", func(s string) string { return strings.Replace(s, "name: pricing", "name: podwire-admin", 1) }, "upstreams[0].name"},
		{"missing cert", func(s string) string { return strings.Replace(s, "cert: /c.pem, ", "", 1) }, "tls.cert"},
		{"missing ca", func(s string) string { return strings.Replace(s, ", ca: /ca.pem", "", 1) }, "tls.ca"},
		{"bad listen", func(s string) string { return strings.Replace(s, `":15443"`, "15443", 1) }, "listen"},
		{"nothing to do", func(s string) string { return s[:strings.Index(s, "services:")] }, "services"},
		{"two documents", func(s string) string { return s + "---\nlisten: :1\n" }, "more than one"},
		{"socket group", func(s string) string { return s + "socket_group: wheel\n" }, "socket_group"},
		{"duplicate upstream", func(s string) string {
			return strings.Replace(s, "drain_timeout", "  - {name: pricing, address: a:1}\ndrain_timeout", 1)
		}, "upstreams[1].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(strings.NewReader(tt.edit(goodYAML)))
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatalf("got no error, want one naming %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %q does not match ErrInvalidConfig", err)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PODWIRE_SOCKET_DIR":              "/tmp/pw",
		"PODWIRE_LISTEN":                  "127.0.0.1:0",
		"PODWIRE_DRAIN_TIMEOUT":           "3s",
		"PODWIRE_PEER_PRICING":            "10.0.0.1:15443",
		"PODWIRE_TLS_CA":                  "/other-ca.pem",
		"PODWIRE_KEEPALIVE_INTERVAL":      "2s",
		"PODWIRE_ALLOW_SHARED_SOCKET_DIR": "true",
	}
	if err := cfg.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"socket_dir", cfg.SocketDir, "/tmp/pw"},
		{"listen", cfg.Listen, "127.0.0.1:0"},
		{"drain_timeout", cfg.DrainTimeout.String(), "3s"},
		{"upstreams[0].address", cfg.Upstreams[0].Address, "10.0.0.1:15443"},
		{"tls.ca", cfg.TLS.CA, "/other-ca.pem"},
		{"admin (unset)", cfg.Admin, "127.0.0.1:15000"},
		{"keepalive_interval", cfg.KeepAliveInterval.String(), "2s"},
		{"keepalive_timeout (unset)", cfg.KeepAliveTimeout.String(), "10s"},
		{"allow_shared_socket_dir", strconv.FormatBool(cfg.AllowSharedSocketDir), "true"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	err = cfg.ApplyEnv(func(k string) (string, bool) { return "maybe", k == "PODWIRE_ALLOW_SHARED_SOCKET_DIR" })
	if err == nil || !strings.Contains(err.Error(), "PODWIRE_ALLOW_SHARED_SOCKET_DIR") {
		t.Errorf("bad env boolean: error %v, want one naming PODWIRE_ALLOW_SHARED_SOCKET_DIR", err)
	}
	err = cfg.ApplyEnv(func(k string) (string, bool) { return "soon", k == "PODWIRE_HEADER_TIMEOUT" })
	if err == nil || !strings.Contains(err.Error(), "PODWIRE_HEADER_TIMEOUT") {
		t.Errorf("bad env duration: error %v, want one naming PODWIRE_HEADER_TIMEOUT", err)
	}
}

func TestPeerEnv(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"inventory", "PODWIRE_PEER_INVENTORY"},
		{"order-history", "PODWIRE_PEER_ORDER_HISTORY"},
	} {
		if got := PeerEnv(tt.in); got != tt.want {
			t.Errorf("PeerEnv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestParseAllow: the sidecar takes transport's allow-list forms (tested
// there, with the matching) except uid:/gid:, as its peers come over TLS.
func TestParseAllow(t *testing.T) {
	for _, tt := range []struct {
		in   string
		ok   bool
		want string // in the error
	}{
		{"spiffe://td/ns/a/sa/b", true, ""},
		{"spiffe://td:80/x", false, "SPIFFE"},
		{"dns:inventory.shop.svc", true, ""},
		{"dns:*.shop.svc", true, ""},
		{"dns:a*.b", false, "dns:"},
		{"gid:1", false, "Unix sockets only"},
		{"uid:1000", false, "Unix sockets only"},
		{"inventory", false, "kind prefix"},
	} {
		_, err := parseAllow([]string{tt.in})
		if got := err == nil; got != tt.ok {
			t.Errorf("parseAllow(%q) ok = %v (err %v), want %v", tt.in, got, err, tt.ok)
			continue
		}
		if err != nil && (!errors.Is(err, ErrBadAllowEntry) || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("parseAllow(%q) = %v, want ErrBadAllowEntry mentioning %q", tt.in, err, tt.want)
		}
	}
}
