package transport

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/podwire/podwire/mux"
)

// muxSessions returns how many mux sessions l's TLS port serves.
func muxSessions(l *Listener) int {
	l.mux.mu.Lock()
	defer l.mux.mu.Unlock()
	return len(l.mux.sessions)
}

// waitMuxSessions waits until l serves want mux sessions.
func waitMuxSessions(tb testing.TB, l *Listener, want int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for muxSessions(l) != want {
		if time.Now().After(deadline) {
			tb.Fatalf("server mux sessions = %d, want %d within 5s", muxSessions(l), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientsOwnTheirState: two Clients with different tuning, logger and
// mux pool settings never share a session to the same peer, Dials of one
// Client with the same options do, and Close releases every session and
// goroutine (goleak) and refuses later Dials.
func TestClientsOwnTheirState(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	certDir := testCertDir(t, "inventory", "client")
	remote := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, certDir, "inventory"))
	dialOpts := []DialOption{WithSocketDir(shortTempDir(t)), tlsFiles(certDir, "client"),
		WithPeerAddr("inventory", remote.ln.TLSAddr().String())}

	tuned := DefaultConfig()
	tuned.HandshakeTimeout = 3 * time.Second
	a, err := NewClient(WithLogger(testLogger(t)), WithConfig(tuned))
	if err != nil {
		t.Fatalf("NewClient a: %v", err)
	}
	b, err := NewClient(WithLogger(testLogger(t)), WithMuxPool(mux.PoolConfig{IdleTimeout: time.Minute}))
	if err != nil {
		t.Fatalf("NewClient b: %v", err)
	}
	var ccs []*grpc.ClientConn
	for _, d := range []struct {
		name   string
		client *Client
	}{{"a", a}, {"b", b}, {"a again", a}} {
		cc, err := d.client.Dial(ctxT(t), "inventory", dialOpts...)
		if err != nil {
			t.Fatalf("client %s: Dial: %v", d.name, err)
		}
		ccs = append(ccs, cc)
		if p, err := check(t, cc); err != nil || p.Transport != KindMuxTLS {
			t.Fatalf("client %s: Check = %v, %v; want mux+tls", d.name, p.Transport, err)
		}
	}
	// a's two channels share a's session; b has its own.
	waitMuxSessions(t, remote.ln, 2)
	if got := len(a.pools); got != 1 {
		t.Errorf("client a pools = %d, want 1 shared by its two Dials", got)
	}

	for _, c := range []*Client{a, b} {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	waitMuxSessions(t, remote.ln, 0)
	for _, cc := range ccs {
		cc.Close()
	}
	if _, err := a.Dial(ctxT(t), "inventory", dialOpts...); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Dial after Close = %v, want ErrClientClosed", err)
	}
}

// TestClientOptionErrors: NewClient names the bad option.
func TestClientOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []ClientOption
	}{
		{"empty socket dir", []ClientOption{WithSocketDir("")}},
		{"bad mux pool", []ClientOption{WithMuxPool(mux.PoolConfig{BackoffBase: time.Second, BackoffMax: time.Millisecond})}},
		{"nil registerer", []ClientOption{WithRegisterer(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.opts...)
			if err == nil {
				c.Close()
				t.Fatal("NewClient = nil error, want one")
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("NewClient = %v, want ErrBadConfig", err)
			}
		})
	}
}
