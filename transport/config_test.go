package transport

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"zero means default", func(c *Config) { *c = Config{} }, true},
		{"keepalive off ignores interval", func(c *Config) { c.KeepAliveIdle, c.KeepAliveInterval = -1, 0 }, true},
		{"TLS 1.2 allowed when asked", func(c *Config) { c.MinTLSVersion = tls.VersionTLS12 }, true},
		{"zero interval is the default", func(c *Config) { c.KeepAliveInterval = 0 }, true},
		{"negative interval", func(c *Config) { c.KeepAliveInterval = -time.Second }, false},
		{"negative count", func(c *Config) { c.KeepAliveCount = -1 }, false},
		{"reset on close", func(c *Config) { c.Linger = -1 }, true},
		{"negative handshake", func(c *Config) { c.HandshakeTimeout = -time.Second }, false},
		{"negative first byte", func(c *Config) { c.FirstByteTimeout = -time.Second }, false},
		{"one pending handshake", func(c *Config) { c.MaxPendingHandshakes = 1 }, true},
		{"negative pending handshakes", func(c *Config) { c.MaxPendingHandshakes = -1 }, false},
		{"negative per source", func(c *Config) { c.MaxPendingHandshakesPerSource = -1 }, false},
		{"negative probe", func(c *Config) { c.ProbeTimeout = -time.Second }, false},
		{"negative reconnect", func(c *Config) { c.ReconnectMaxDelay = -time.Second }, false},
		{"TLS 1.1", func(c *Config) { c.MinTLSVersion = tls.VersionTLS11 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if got := err == nil; got != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Errorf("Validate() = %v, want it to wrap ErrBadConfig", err)
			}
		})
	}
	if d := DefaultConfig(); d.MinTLSVersion != tls.VersionTLS13 || d.DelaySmallWrites || d.NoReuseAddr ||
		d.KeepAliveIdle != 30*time.Second || d.MaxPendingHandshakes != 256 || d.MaxPendingHandshakesPerSource != 16 {
		t.Errorf("DefaultConfig() = %+v, want TLS 1.3, TCP_NODELAY and SO_REUSEADDR on, 30s keepalive, 256 pending handshakes, 16 per source", d)
	}
}

// TestConfigZeroFieldsAreDefaults: a Config that sets one field keeps
// every other default, TCP_NODELAY and SO_REUSEADDR included (before, any
// non-zero Config silently turned both off).
func TestConfigZeroFieldsAreDefaults(t *testing.T) {
	c := Config{HandshakeTimeout: 5 * time.Second}
	if err := c.Validate(); err != nil {
		t.Fatalf("Config{HandshakeTimeout: 5s}.Validate() = %v, want valid", err)
	}
	got := c.withDefaults()
	want := DefaultConfig()
	want.HandshakeTimeout = 5 * time.Second
	if got != want {
		t.Errorf("Config{HandshakeTimeout: 5s} with defaults = %+v, want %+v", got, want)
	}
	if got.DelaySmallWrites || got.NoReuseAddr {
		t.Errorf("TCP_NODELAY/SO_REUSEADDR turned off by setting HandshakeTimeout: %+v", got)
	}
	if got := (Config{}).withDefaults(); got != DefaultConfig() {
		t.Errorf("zero Config = %+v, want DefaultConfig()", got)
	}
}
