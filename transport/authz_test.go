package transport

import (
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
)

// tlsPeerT is a TLS peer whose leaf has the SPIFFE ID uri ("" for none)
// and the DNS names dns.
func tlsPeerT(tb testing.TB, uri string, dns ...string) Peer {
	tb.Helper()
	leaf := &x509.Certificate{DNSNames: dns}
	p := Peer{Transport: KindMuxTLS, UID: -1, GID: -1, PID: -1, DNSNames: dns, Chain: []*x509.Certificate{leaf}}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			tb.Fatal(err)
		}
		leaf.URIs = []*url.URL{u}
		p.SPIFFEID = uri
	}
	return p
}

func TestAllowListAllows(t *testing.T) {
	self, err := ParseAllowList(nil)
	if err != nil {
		t.Fatal(err)
	}
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}
	tests := []struct {
		name  string
		allow []string
		peer  Peer
		want  bool
	}{
		{"own uid over unix", nil, Peer{Transport: KindUnix, UID: self.selfUID}, true},
		{"unknown uid over unix", nil, Peer{Transport: KindUnix, UID: -1}, false},
		{"uid entry", []string{"uid:4242"}, Peer{Transport: KindUnix, UID: 4242, GID: 1}, true},
		{"gid entry", []string{"gid:77"}, Peer{Transport: KindUnix, UID: 1, GID: 77}, true},
		{"uid not listed", []string{"uid:4242"}, Peer{Transport: KindUnix, UID: 4243, GID: 1}, false},
		{"tls without chain", nil, Peer{Transport: KindTLS}, false},
		{"empty admits any certificate", nil, tlsPeerT(t, "spiffe://a/b"), true},
		{"loopback plaintext", nil, Peer{Transport: KindTCP, Addr: loop}, true},
		{"remote plaintext", nil, Peer{Transport: KindTCP, Addr: remote}, false},
		{"plaintext with entries", []string{"uid:0"}, Peer{Transport: KindTCP, Addr: loop}, false},
		{"not a podwire conn", nil, Peer{}, false},
		{"spiffe exact", []string{"spiffe://td/sa/purchase"}, tlsPeerT(t, "spiffe://td/sa/purchase"), true},
		{"spiffe other", []string{"spiffe://td/sa/purchase"}, tlsPeerT(t, "spiffe://td/sa/purchaser"), false},
		{"dns exact", []string{"dns:purchase.shop.svc"}, tlsPeerT(t, "", "purchase.shop.svc"), true},
		{"dns case", []string{"dns:Purchase.shop.svc"}, tlsPeerT(t, "", "purchase.SHOP.svc"), true},
		{"dns wildcard one label", []string{"dns:*.shop.svc"}, tlsPeerT(t, "", "purchase.shop.svc"), true},
		{"dns wildcard two labels", []string{"dns:*.shop.svc"}, tlsPeerT(t, "", "a.purchase.shop.svc"), false},
		{"dns wildcard apex", []string{"dns:*.shop.svc"}, tlsPeerT(t, "", "shop.svc"), false},
		{"dns wildcard empty label", []string{"dns:*.shop.svc"}, tlsPeerT(t, "", ".shop.svc"), false},
		{"dns wildcard case", []string{"dns:*.Shop.svc"}, tlsPeerT(t, "", "Purchase.shop.SVC"), true},
		{"second dns name", []string{"dns:b.svc"}, tlsPeerT(t, "", "a.svc", "b.svc"), true},
		{"second entry", []string{"dns:x", "spiffe://td/sa/p"}, tlsPeerT(t, "spiffe://td/sa/p"), true},
		{"uid entry over tls", []string{"uid:0"}, tlsPeerT(t, "spiffe://td/sa/p"), false},
	}
	var zero AllowList
	if ok, _ := zero.Allows(Peer{Transport: KindUnix, UID: self.selfUID}); !ok {
		t.Error("zero AllowList denies the server's own uid, want it to act as the empty list")
	}
	if ok, _ := zero.Allows(Peer{Transport: KindUnix, UID: self.selfUID + 1}); ok {
		t.Error("zero AllowList allows another uid, want it to act as the empty list")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAllowList(tt.allow)
			if err != nil {
				t.Fatal(err)
			}
			got, reason := a.Allows(tt.peer)
			if got != tt.want {
				t.Errorf("Allows = %v (%s), want %v", got, reason, tt.want)
			}
			if !got && reason == "" {
				t.Error("denied without a reason")
			}
		})
	}
}

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		entry    string
		ok       bool
		hasUnix  bool
		wantKind string // substring of the error's reason
	}{
		{"uid:1000", true, true, ""},
		{"gid:0", true, true, ""},
		{"uid:-1", false, false, "non-negative"},
		{"uid:x", false, false, "non-negative"},
		{"spiffe://td/ns/a/sa/b", true, false, ""},
		{"spiffe://", false, false, "SPIFFE"},
		{"spiffe://td:80/x", false, false, "SPIFFE"},
		{"spiffe://u@td/x", false, false, "SPIFFE"},
		{"dns:inventory.shop.svc", true, false, ""},
		{"dns:*.shop.svc", true, false, ""},
		{"dns:", false, false, "host name"},
		{"dns:*.", false, false, "host name"},
		{"dns:a*.b", false, false, "host name"},
		{"dns:*.*.b", false, false, "host name"},
		{"dns:a.b.", false, false, "host name"},
		{"dns:.a.b", false, false, "host name"},
		{"dns:a/b", false, false, "host name"},
		{"inventory", false, false, "kind prefix"},
		{"ip:10.0.0.1", false, false, "unknown kind"},
	}
	for _, tt := range tests {
		a, err := ParseAllowList([]string{tt.entry})
		if got := err == nil; got != tt.ok {
			t.Errorf("ParseAllowList(%q) ok = %v (err %v), want %v", tt.entry, got, err, tt.ok)
			continue
		}
		if err != nil {
			var ae *AllowEntryError
			if !errors.As(err, &ae) || !errors.Is(err, ErrBadAllowEntry) || ae.Entry != tt.entry {
				t.Errorf("ParseAllowList(%q) error %v: want an *AllowEntryError naming the entry", tt.entry, err)
			} else if !strings.Contains(ae.Reason, tt.wantKind) {
				t.Errorf("ParseAllowList(%q) reason %q, want it to mention %q", tt.entry, ae.Reason, tt.wantKind)
			}
			continue
		}
		if got := a.HasUnixEntries(); got != tt.hasUnix {
			t.Errorf("ParseAllowList(%q).HasUnixEntries = %v, want %v", tt.entry, got, tt.hasUnix)
		}
	}
}

func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"uid:1000", "gid:0", "spiffe://podwire.local/a", "dns:inventory", "dns:*.shop.svc", "uid:", "spiffe://x:1/a"} {
		f.Add(s, "a.shop.svc")
	}
	f.Fuzz(func(t *testing.T, entry, dnsName string) {
		a, err := ParseAllowList([]string{entry})
		if err != nil {
			var ae *AllowEntryError
			if !errors.As(err, &ae) || ae.Entry != entry {
				t.Fatalf("ParseAllowList(%q) error %v does not name the entry", entry, err)
			}
			return
		}
		if a.Empty() {
			t.Fatalf("ParseAllowList(%q) accepted the entry but the list is empty", entry)
		}
		// Matching never panics; a plain dns: entry admits exactly its name.
		got, _ := a.Allows(tlsPeerT(t, "", dnsName))
		if name, ok := strings.CutPrefix(entry, "dns:"); ok && !strings.HasPrefix(name, "*.") {
			if want := strings.ToLower(name) == strings.ToLower(dnsName); got != want {
				t.Fatalf("ParseAllowList(%q).Allows(dns %q) = %v, want %v", entry, dnsName, got, want)
			}
		}
	})
}
