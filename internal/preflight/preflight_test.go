package preflight

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/podwire/podwire/transport"
	"github.com/podwire/podwire/transport/certs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeCerts writes a CA and a leaf for name into a new dir.
func writeCerts(t testing.TB, name string, opts ...certs.Option) string {
	t.Helper()
	dir := t.TempDir()
	if err := certs.Write(dir, []string{name}, opts...); err != nil {
		t.Fatal(err)
	}
	return dir
}

// certCfg points a Config at dir's leaf for name and its CA.
func certCfg(dir, name string) Config {
	return Config{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key"), CAFile: filepath.Join(dir, "ca.crt")}
}

// statuses maps each check name to its status.
func statuses(rs []Result) map[string]Status {
	m := map[string]Status{}
	for _, r := range rs {
		m[r.Check] = r.Status
	}
	return m
}

func TestCertChecks(t *testing.T) {
	good := writeCerts(t, "inventory")
	other := writeCerts(t, "inventory")
	now := time.Now()
	expired := writeCerts(t, "inventory", certs.WithValidity(now.Add(-48*time.Hour), now.Add(-time.Hour)))
	soon := writeCerts(t, "inventory", certs.WithValidity(now.Add(-time.Hour), now.Add(72*time.Hour)))
	mixed := certCfg(good, "inventory")
	mixed.KeyFile = filepath.Join(other, "inventory.key")
	wrongCA := certCfg(good, "inventory")
	wrongCA.CAFile = filepath.Join(other, "ca.crt")
	with := func(c Config, f func(*Config)) Config { f(&c); return c }

	tests := []struct {
		name     string
		cfg      Config
		want     map[string]Status
		wantFail bool
	}{
		{"good", with(certCfg(good, "inventory"), func(c *Config) {
			c.SPIFFEID, c.SANs = "spiffe://podwire.local/inventory", []string{"127.0.0.1", "localhost", "inventory"}
		}), map[string]Status{
			"CA bundle parses": OK, "certificate and key parse and match": OK, "certificate chains to the CA": OK,
			"certificate is valid and not expiring soon": OK, "certificate carries the SPIFFE ID spiffe://podwire.local/inventory": OK,
			"certificate is valid for 127.0.0.1": OK, "certificate is valid for localhost": OK,
		}, false},
		{"expired", certCfg(expired, "inventory"), map[string]Status{"certificate is valid and not expiring soon": Fail}, true},
		{"expiring within the window", certCfg(soon, "inventory"), map[string]Status{"certificate is valid and not expiring soon": Warn}, false},
		{"outside a shorter window", with(certCfg(soon, "inventory"), func(c *Config) { c.WarnWithin = time.Hour }),
			map[string]Status{"certificate is valid and not expiring soon": OK}, false},
		{"other CA", wrongCA, map[string]Status{"CA bundle parses": OK, "certificate chains to the CA": Fail}, true},
		{"key of another pair", mixed, map[string]Status{"certificate and key parse and match": Fail}, true},
		{"wrong SPIFFE ID", with(certCfg(good, "inventory"), func(c *Config) { c.SPIFFEID = "spiffe://podwire.local/purchase" }),
			map[string]Status{"certificate carries the SPIFFE ID spiffe://podwire.local/purchase": Fail}, true},
		{"missing SAN", with(certCfg(good, "inventory"), func(c *Config) { c.SANs = []string{"10.9.9.9"} }),
			map[string]Status{"certificate is valid for 10.9.9.9": Fail}, true},
		{"CA not PEM", with(certCfg(good, "inventory"), func(c *Config) { c.CAFile = filepath.Join(good, "inventory.key") }),
			map[string]Status{"CA bundle parses": Fail}, true},
		{"missing cert file", with(certCfg(good, "inventory"), func(c *Config) { c.CertFile = filepath.Join(good, "nope.crt") }),
			map[string]Status{"certificate and key parse and match": Fail}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Run(context.Background(), tt.cfg)
			got := statuses(rs)
			for check, want := range tt.want {
				if got[check] != want {
					t.Errorf("%q = %q, want %q; all: %+v", check, got[check], want, rs)
				}
			}
			if Failed(rs) != tt.wantFail {
				t.Errorf("Failed = %v, want %v; results: %+v", Failed(rs), tt.wantFail, rs)
			}
			for _, r := range rs {
				if r.Status != OK && r.Hint == "" {
					t.Errorf("%q is %s without a hint", r.Check, r.Status)
				}
			}
		})
	}
}

func TestSocketDirChecks(t *testing.T) {
	mk := func(t *testing.T, mode os.FileMode) string {
		parent := t.TempDir()
		if err := os.Chmod(parent, 0o750); err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(parent, "run")
		if err := os.Mkdir(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T) (string, bool)
		want     map[string]Status
		wantFail bool
	}{
		{"missing", func(t *testing.T) (string, bool) { return filepath.Join(t.TempDir(), "none"), false },
			map[string]Status{"socket dir %s exists": Fail}, true},
		{"private, empty", func(t *testing.T) (string, bool) { return mk(t, 0o750), false },
			map[string]Status{"socket dir %s exists": OK, "socket dir %s is writable only by trusted users": OK, "sockets in %s": Warn}, false},
		{"world-writable", func(t *testing.T) (string, bool) { return mk(t, 0o777), false },
			map[string]Status{"socket dir %s is writable only by trusted users": Fail}, true},
		{"world-writable, shared on purpose", func(t *testing.T) (string, bool) { return mk(t, 0o777), true },
			map[string]Status{"socket dir %s is writable only by trusted users": OK}, false},
		{"live and stale sockets", func(t *testing.T) (string, bool) {
			d := mk(t, 0o750)
			ln, err := net.Listen("unix", filepath.Join(d, "live.sock"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			st, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(d, "stale.sock"), Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			st.SetUnlinkOnClose(false)
			st.Close()
			return d, false
		}, map[string]Status{"socket live.sock is live": OK, "socket stale.sock is live": Warn}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, shared := tt.setup(t)
			rs := Run(context.Background(), Config{SocketDir: dir, AllowSharedDir: shared, Timeout: time.Second})
			got := statuses(rs)
			for check, want := range tt.want {
				if strings.Contains(check, "%s") {
					check = strings.Replace(check, "%s", dir, 1)
				}
				if got[check] != want {
					t.Errorf("%q = %q, want %q; all: %+v", check, got[check], want, rs)
				}
			}
			if Failed(rs) != tt.wantFail {
				t.Errorf("Failed = %v, want %v; results: %+v", Failed(rs), tt.wantFail, rs)
			}
		})
	}
}

func TestPeerChecks(t *testing.T) {
	dir := writeCerts(t, "inventory")
	cfg := certCfg(dir, "inventory")
	lis, err := transport.Listen(context.Background(), transport.ListenConfig{Service: "inventory", NoUnix: true, TLSAddr: "127.0.0.1:0",
		CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CAFile: cfg.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	// An h2-only TLS server with the same certificate: handshakes, but is
	// not podwire.
	pair, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := h2.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	defer func() { h2.Close(); <-done }()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name string
		peer Peer
		cfg  Config
		want Status
	}{
		{"podwire listener", Peer{Name: "inventory", Address: lis.TLSAddr().String()}, cfg, OK},
		{"not podwire", Peer{Name: "h2", Address: h2.Addr().String()}, cfg, Fail},
		{"nothing listening", Peer{Name: "gone", Address: closedAddr}, cfg, Fail},
		{"wrong server name", Peer{Name: "named", Address: lis.TLSAddr().String(), ServerName: "billing"}, cfg, Fail},
		{"no certificate", Peer{Name: "nocert", Address: lis.TLSAddr().String()}, Config{}, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.Peers, c.Timeout = []Peer{tt.peer}, 2*time.Second
			rs := Run(context.Background(), c)
			r := rs[len(rs)-1]
			if r.Status != tt.want || !strings.HasPrefix(r.Check, "peer "+tt.peer.Name) {
				t.Errorf("peer check = %+v, want status %s", r, tt.want)
			}
		})
	}
}

// TestRender: one line per check with ✔/‼/✘, hints under non-OK lines,
// and JSON a script can read.
func TestRender(t *testing.T) {
	rs := []Result{ok("a", "fine"), warn("b", "meh", "do b"), fail("c", "broken", "do c")}
	var b bytes.Buffer
	Render(&b, rs)
	want := "✔ a: fine\n‼ b: meh\n    hint: do b\n✘ c: broken\n    hint: do c\n\n1 of 3 checks failed, 1 warnings\n"
	if b.String() != want {
		t.Errorf("Render =\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := RenderJSON(&b, rs); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK     bool     `json:"ok"`
		Checks []Result `json:"checks"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got.OK || len(got.Checks) != 3 || got.Checks[2].Hint != "do c" {
		t.Errorf("RenderJSON = %s (%v), want ok false and 3 checks", b.String(), err)
	}
}
