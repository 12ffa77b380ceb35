package statusapi

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRenderUnknown: values not known yet print as "—", known ones as
// durations; a service names itself.
func TestRenderUnknown(t *testing.T) {
	tests := []struct {
		name string
		snap Snapshot
		want []string
	}{
		{"rtt before first ping", Snapshot{Kind: KindSidecar, Ready: true, Sessions: []SessionInfo{{Direction: "inbound", Transport: "mux+tls", Local: "a", Remote: "b"}}},
			[]string{"SIDECAR", "ready: yes", "  " + Unknown + "  "}},
		{"rtt known", Snapshot{Kind: KindService, Service: "inventory", Sessions: []SessionInfo{{Direction: "inbound", Peer: "spiffe://x/y", RTTMillis: 1.5}}},
			[]string{"SERVICE inventory", "ready: no", "1.5ms", "spiffe://x/y"}},
		{"no sessions", Snapshot{Kind: KindService, Service: "purchase", Ready: false, NotReady: "starting"},
			[]string{"ready: no (starting)", "(no sessions)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			Render(&b, "127.0.0.1:1", tt.snap)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("Render = %q, want it to contain %q", b.String(), w)
				}
			}
		})
	}
}

// TestFetchRoundTrip: what Handler serves, Fetch reads back; RTT left
// out of the JSON while unknown.
func TestFetchRoundTrip(t *testing.T) {
	want := Snapshot{Kind: KindService, Service: "inventory", Ready: true, Sessions: []SessionInfo{{Direction: "inbound", Streams: 3}}}
	srv := httptest.NewServer(Handler(func() Snapshot { return want }))
	defer srv.Close()
	got, err := Fetch(context.Background(), strings.TrimPrefix(srv.URL, "http://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Service != want.Service || len(got.Sessions) != 1 || got.Sessions[0].Streams != 3 {
		t.Errorf("Fetch = %+v, want %+v", got, want)
	}
	var b bytes.Buffer
	Render(&b, "x", got)
	if !strings.Contains(b.String(), Unknown) {
		t.Errorf("RTT of a fresh session rendered as %q, want %q", b.String(), Unknown)
	}
}
