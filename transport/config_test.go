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
		{"keepalive off ignores interval", func(c *Config) { c.KeepAliveIdle, c.KeepAliveInterval = -1, 0 }, true},
		{"TLS 1.2 allowed when asked", func(c *Config) { c.MinTLSVersion = tls.VersionTLS12 }, true},
		{"zero interval", func(c *Config) { c.KeepAliveInterval = 0 }, false},
		{"zero count", func(c *Config) { c.KeepAliveCount = 0 }, false},
		{"linger below -1", func(c *Config) { c.Linger = -2 }, false},
		{"zero handshake", func(c *Config) { c.HandshakeTimeout = 0 }, false},
		{"zero first byte", func(c *Config) { c.FirstByteTimeout = 0 }, false},
		{"one pending handshake", func(c *Config) { c.MaxPendingHandshakes = 1 }, true},
		{"zero pending handshakes", func(c *Config) { c.MaxPendingHandshakes = 0 }, false},
		{"negative pending handshakes", func(c *Config) { c.MaxPendingHandshakes = -1 }, false},
		{"zero probe", func(c *Config) { c.ProbeTimeout = 0 }, false},
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
	if got := (Config{}).orDefault(); got != DefaultConfig() {
		t.Errorf("zero Config = %+v, want DefaultConfig()", got)
	}
	if d := DefaultConfig(); d.MinTLSVersion != tls.VersionTLS13 || !d.NoDelay || d.KeepAliveIdle != 30*time.Second || d.MaxPendingHandshakes != 256 {
		t.Errorf("DefaultConfig() = %+v, want TLS 1.3, NoDelay, 30s keepalive, 256 pending handshakes", d)
	}
}
