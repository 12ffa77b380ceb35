package mux

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// rawYamux starts an unmodified hashicorp/yamux session with
// yamux.DefaultConfig() (logging discarded) on conn.
func rawYamux(tb testing.TB, conn net.Conn, client bool) *yamux.Session {
	tb.Helper()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	start := yamux.Server
	if client {
		start = yamux.Client
	}
	s, err := start(conn, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestWireCompatibility checks that a plain yamux peer with default
// settings and a podwire Session interoperate in both roles and both
// stream directions, with the podwire.wire.v1 header on top.
func TestWireCompatibility(t *testing.T) {
	for _, kind := range connKinds {
		for _, podwireIsClient := range []bool{true, false} {
			name := kind.name + "/podwire-server"
			if podwireIsClient {
				name = kind.name + "/podwire-client"
			}
			t.Run(name, func(t *testing.T) {
				cc, sc := kind.make(t)
				var ours *Session
				var theirs *yamux.Session
				var err error
				if podwireIsClient {
					ours, err = Client(cc, testConfig())
					theirs = rawYamux(t, sc, false)
				} else {
					theirs = rawYamux(t, cc, true)
					ours, err = Server(sc, testConfig())
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ours.Close() })

				// podwire opens, raw yamux accepts and answers the header.
				go func() {
					c, err := theirs.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					if _, err := ReadHeader(c); err != nil {
						t.Errorf("raw peer ReadHeader: %v", err)
						return
					}
					if Accept(c) == nil {
						io.Copy(c, c)
					}
				}()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c, err := ours.DialService(ctx, validHeader())
				if err != nil {
					t.Fatalf("DialService to raw yamux: %v", err)
				}
				echoRoundTrip(t, c, make([]byte, 300<<10)) // more than one window
				c.Close()

				// Raw yamux opens, podwire accepts.
				rc, err := theirs.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				ac, err := ours.Accept()
				if err != nil {
					t.Fatal(err)
				}
				defer ac.Close()
				go io.Copy(ac, ac)
				echoRoundTrip(t, rc, []byte("from raw yamux"))

				// Raw yamux's own keepalive ping is answered by us.
				if _, err := theirs.Ping(); err != nil {
					t.Fatalf("raw yamux Ping to podwire: %v", err)
				}
			})
		}
	}
}

// TestWindowBoundsPendingBytes checks that a stream whose reader stalls
// buffers at most StreamWindow bytes: the writer blocks there.
func TestWindowBoundsPendingBytes(t *testing.T) {
	cfg := testConfig()
	cfg.StreamWindow = 512 << 10
	client, server := sessionPair(t, tcpConns, cfg)
	a, _ := openAccept(t, client, server) // the acceptor never reads
	a.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	var written int
	buf := make([]byte, 32<<10)
	for {
		n, err := a.Write(buf)
		written += n
		if err != nil {
			break
		}
	}
	// The sender learns of the larger window only after the receiver's
	// first window update, so it stops at exactly one window.
	if got, max := written, int(cfg.StreamWindow); got > max || got < minStreamWindow {
		t.Fatalf("written before blocking = %d bytes, want between %d and %d", got, minStreamWindow, max)
	}
}

func TestRTTAndMetrics(t *testing.T) {
	m := newCountingMetrics()
	cfg := testConfig()
	cfg.KeepAliveInterval = 20 * time.Millisecond
	cfg.Metrics = m
	client, server := sessionPair(t, tcpConns, cfg)
	a, b := openAccept(t, client, server)
	echoCheck(t, a, b, []byte("metrics"))
	deadline := time.Now().Add(5 * time.Second)
	for client.RTT() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("RTT still 0 after 5s of 20ms keepalives")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tests := []struct {
		key  string
		want int64
	}{
		{"sessions/client", 1},
		{"sessions/server", 1},
		{"open/outbound", 1},
		{"open/inbound", 1},
	}
	for _, tt := range tests {
		if got := m.get(tt.key); got != tt.want {
			t.Errorf("%s = %d, want %d", tt.key, got, tt.want)
		}
	}
	if got := m.get("rtt"); got < 1 {
		t.Errorf("rtt samples = %d, want >= 1", got)
	}
	if got := m.get("bytes/out"); got <= 0 {
		t.Errorf("bytes out = %d, want > 0", got)
	}
}
