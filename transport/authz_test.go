package transport

import (
	"errors"
	"net"
	"testing"
)

func TestPolicyAllows(t *testing.T) {
	p, err := parsePolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}
	tests := []struct {
		name string
		peer Peer
		want bool
	}{
		{"own uid over unix", Peer{Transport: KindUnix, UID: p.selfUID}, true},
		{"unknown uid over unix", Peer{Transport: KindUnix, UID: -1}, false},
		{"tls without chain", Peer{Transport: KindTLS}, false},
		{"loopback plaintext", Peer{Transport: KindTCP, Addr: loop}, true},
		{"remote plaintext", Peer{Transport: KindTCP, Addr: remote}, false},
		{"not a podwire conn", Peer{}, false},
	}
	for _, tt := range tests {
		if got, reason := p.allows(tt.peer); got != tt.want {
			t.Errorf("%s: allows = %v (%s), want %v", tt.name, got, reason, tt.want)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"uid:1000", "gid:0", "spiffe://podwire.local/a", "dns:inventory", "uid:", "spiffe://x:1/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		p, err := parsePolicy([]string{entry})
		if err != nil {
			var ae *AllowEntryError
			if !errors.As(err, &ae) || ae.Entry != entry {
				t.Fatalf("parsePolicy(%q) error %v does not name the entry", entry, err)
			}
			return
		}
		if p.empty() {
			t.Fatalf("parsePolicy(%q) accepted the entry but the policy is empty", entry)
		}
	})
}
