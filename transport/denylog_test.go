package transport

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestDenyLogRateLimit: one line per peer per window, each line carrying
// the denials suppressed since the peer's previous line.
func TestDenyLogRateLimit(t *testing.T) {
	var buf bytes.Buffer
	d := newDenyLog(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second)
	now := time.Unix(1000, 0)
	d.now = func() time.Time { return now }
	a := Peer{Transport: KindUnix, UID: 1001}
	b := tlsPeerT(t, "spiffe://podwire.local/intruder")
	c := Peer{Transport: KindTCP, Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5}}
	c2 := Peer{Transport: KindTCP, Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 6}}
	steps := []struct {
		after time.Duration
		peer  Peer
	}{
		{0, a}, {time.Second, a}, {time.Second, a}, {0, b}, {0, c}, {0, c2},
		{9 * time.Second, a}, // 11 s after a's first line: logged, 2 suppressed
		{time.Second, b},     // 11 s after b's: logged, 0 suppressed
		{0, c},               // c2 was charged to c (same host): logged, 1 suppressed
	}
	for _, s := range steps {
		now = now.Add(s.after)
		d.denied(s.peer, "/test.Echo/Echo", "not listed")
	}
	type line struct {
		Transport  string `json:"transport"`
		UID        int    `json:"uid"`
		SPIFFE     string `json:"spiffe_id"`
		Suppressed int    `json:"suppressed"`
	}
	var got []line
	for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var l line
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		got = append(got, l)
	}
	want := []line{
		{"unix", 1001, "", 0},
		{"mux+tls", -1, "spiffe://podwire.local/intruder", 0},
		{"tcp", 0, "", 0},
		{"unix", 1001, "", 2},
		{"mux+tls", -1, "spiffe://podwire.local/intruder", 0},
		{"tcp", 0, "", 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestDenyLogBounded: a flood of distinct peers never grows the table
// past maxDenyPeers.
func TestDenyLogBounded(t *testing.T) {
	var buf bytes.Buffer
	d := newDenyLog(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour)
	for i := range 3 * maxDenyPeers {
		d.denied(Peer{Transport: KindUnix, UID: i}, "/m/M", "r")
		if n := len(d.peers); n > maxDenyPeers {
			t.Fatalf("after %d peers the table holds %d, want at most %d", i+1, n, maxDenyPeers)
		}
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 3*maxDenyPeers {
		t.Errorf("%d lines for %d distinct peers, want one each", n, 3*maxDenyPeers)
	}
}
