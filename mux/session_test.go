package mux

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"golang.org/x/net/nettest"
)

// TestConfigValidate: a zero field is its default and valid; Validate
// rejects only fields that are set and out of range.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" = valid
	}{
		{"zero", Config{}, ""},
		{"default", DefaultConfig(), ""},
		{"one field set", Config{HeaderTimeout: time.Second}, ""},
		{"backlog", Config{AcceptBacklog: -1}, "AcceptBacklog"},
		{"inbound", Config{MaxInboundStreams: -1}, "MaxInboundStreams"},
		{"window", Config{StreamWindow: 64 << 10}, "StreamWindow"},
		{"interval", Config{KeepAliveInterval: -time.Second}, "KeepAliveInterval"},
		{"ka timeout", Config{KeepAliveTimeout: -1}, "KeepAliveTimeout"},
		{"write", Config{WriteTimeout: -time.Second}, "WriteTimeout"},
		{"header", Config{HeaderTimeout: -1}, "HeaderTimeout"},
		{"close", Config{StreamCloseTimeout: -1}, "StreamCloseTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}

// TestConfigDefaults: zero fields become DefaultConfig's values in one
// place, and set fields are kept.
func TestConfigDefaults(t *testing.T) {
	if got, want := (Config{}).WithDefaults(), DefaultConfig(); got != want {
		t.Errorf("Config{}.WithDefaults() = %+v, want DefaultConfig() %+v", got, want)
	}
	got := Config{HeaderTimeout: time.Second, StreamWindow: 4 << 20}.WithDefaults()
	want := DefaultConfig()
	want.HeaderTimeout, want.StreamWindow = time.Second, 4<<20
	if got != want {
		t.Errorf("WithDefaults() = %+v, want %+v", got, want)
	}
	pc := PoolConfig{BackoffBase: 5 * time.Second}.WithDefaults()
	if pc.BackoffMax != 5*time.Second || pc.Session != DefaultConfig() || pc.IdleTimeout != DefaultPoolConfig().IdleTimeout {
		t.Errorf("PoolConfig{BackoffBase: 5s}.WithDefaults() = %+v, want BackoffMax 5s and default Session", pc)
	}
	// A session started with Config{} runs with the defaults.
	a, b := net.Pipe()
	s, err := Client(a, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer b.Close()
	if s.cfg != DefaultConfig() {
		t.Errorf("Client(conn, Config{}).cfg = %+v, want DefaultConfig()", s.cfg)
	}
}

// streamPipe opens a stream on a fresh session pair and returns both ends.
func streamPipe(tb testing.TB, mk connMaker) (opened, accepted net.Conn) {
	tb.Helper()
	client, server := sessionPair(tb, mk, testConfig())
	return openAccept(tb, client, server)
}

func openAccept(tb testing.TB, opener, acceptor *Session) (net.Conn, net.Conn) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c1, err := opener.Open(ctx)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	c2, err := acceptor.Accept()
	if err != nil {
		tb.Fatalf("Accept: %v", err)
	}
	tb.Cleanup(func() { c1.Close(); c2.Close() })
	return c1, c2
}

func TestStreamNetConn(t *testing.T) {
	for _, kind := range connKinds {
		t.Run(kind.name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				client, server := sessionPair(t, kind.make, testConfig())
				c1, c2 = openAccept(t, client, server)
				return c1, c2, func() { c1.Close(); c2.Close(); client.Close(); server.Close() }, nil
			})
		})
	}
}

// TestReverseStreams opens streams from the accepting side too, the way a
// server makes reverse calls over the same connection.
func TestReverseStreams(t *testing.T) {
	for _, kind := range connKinds {
		t.Run(kind.name, func(t *testing.T) {
			client, server := sessionPair(t, kind.make, testConfig())
			for _, dir := range []struct {
				name             string
				opener, acceptor *Session
			}{{"client-opens", client, server}, {"server-opens", server, client}} {
				a, b := openAccept(t, dir.opener, dir.acceptor)
				echoCheck(t, a, b, []byte(dir.name))
				if got, want := a.(interface{ Session() *Session }).Session(), dir.opener; got != want {
					t.Errorf("%s: Session() = %p, want %p", dir.name, got, want)
				}
			}
			if got, want := client.NumStreams(), 2; got != want {
				t.Errorf("client.NumStreams() = %d, want %d", got, want)
			}
		})
	}
}

// echoCheck writes msg on a, echoes it back from b and checks it arrives.
func echoCheck(tb testing.TB, a, b net.Conn, msg []byte) {
	tb.Helper()
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(b, buf); err != nil {
			errc <- err
			return
		}
		_, err := b.Write(buf)
		errc <- err
	}()
	if _, err := a.Write(msg); err != nil {
		tb.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(a, got); err != nil {
		tb.Fatalf("read echo: %v", err)
	}
	if err := <-errc; err != nil {
		tb.Fatalf("echo side: %v", err)
	}
	if !bytes.Equal(got, msg) {
		tb.Fatalf("echo = %q, want %q", got, msg)
	}
}

// freezeConn silently drops all traffic once frozen, like a dead network
// path: writes "succeed" and arriving bytes are discarded.
type freezeConn struct {
	net.Conn
	frozen atomic.Bool
}

func (c *freezeConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if !c.frozen.Load() || err != nil {
			return n, err
		}
	}
}

func (c *freezeConn) Write(p []byte) (int, error) {
	if c.frozen.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// TestDeadConnFailsStreams kills the path under a session two ways (the
// connection is closed; the network silently drops everything) and checks
// that blocked readers and new writers fail with ErrSessionClosed within the
// keepalive bound.
func TestDeadConnFailsStreams(t *testing.T) {
	for _, kind := range connKinds {
		for _, how := range []string{"close", "blackhole"} {
			t.Run(kind.name+"/"+how, func(t *testing.T) {
				cfg := testConfig()
				cc, sc := kind.make(t)
				fc := &freezeConn{Conn: cc}
				client, err := Client(fc, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { client.Close() })
				// Only the client's keepalive should notice the blackhole.
				scfg := cfg
				scfg.KeepAliveInterval = time.Hour
				server, err := Server(sc, scfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { server.Close() })
				const n = 8
				streams := make([]net.Conn, n)
				for i := range streams {
					streams[i], _ = openAccept(t, client, server)
				}
				start := time.Now()
				if how == "close" {
					sc.Close()
				} else {
					fc.frozen.Store(true)
				}
				var wg sync.WaitGroup
				for _, st := range streams {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := st.Read(make([]byte, 1))
						if !errors.Is(err, ErrSessionClosed) {
							t.Errorf("Read after dead conn: %v, want ErrSessionClosed", err)
						}
					}()
				}
				wg.Wait()
				// Detection takes at most one interval plus the timeout; the
				// slack absorbs a loaded 2-core CI machine under -race.
				bound := cfg.KeepAliveInterval + cfg.KeepAliveTimeout + time.Second
				t.Logf("streams failed %v after the path died", time.Since(start))
				if took := time.Since(start); took > bound {
					t.Errorf("streams failed after %v, want within %v", took, bound)
				}
				if _, err := streams[0].Write([]byte("x")); !errors.Is(err, ErrSessionClosed) {
					t.Errorf("Write after dead conn: %v, want ErrSessionClosed", err)
				}
				if _, err := client.Open(context.Background()); !errors.Is(err, ErrSessionClosed) {
					t.Errorf("Open after dead conn: %v, want ErrSessionClosed", err)
				}
				if how == "blackhole" && !errors.Is(client.Err(), ErrKeepAliveTimeout) {
					t.Errorf("Err() = %v, want ErrKeepAliveTimeout", client.Err())
				}
				select {
				case <-client.Done():
				default:
					t.Error("Done() not closed after the session died")
				}
			})
		}
	}
}

// TestOpenTimeoutKeepsSession fills the un-acknowledged-open window against
// a raw yamux peer that stops accepting, lets one Open time out, and checks
// the session and an established stream still work and the abandoned
// stream is cleaned up.
func TestOpenTimeoutKeepsSession(t *testing.T) {
	cc, sc := tcpConns(t)
	cfg := testConfig()
	cfg.AcceptBacklog = 4
	client, err := Client(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ycfg := yamux.DefaultConfig()
	ycfg.LogOutput = io.Discard
	peer, err := yamux.Server(sc, ycfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })

	ctx := context.Background()
	live, err := client.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	peerLive, err := peer.Accept()
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(peerLive, peerLive)
	// The peer does not accept these: they hold the whole SYN window.
	for i := 0; i < cfg.AcceptBacklog; i++ {
		if _, err := client.Open(ctx); err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := client.Open(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with full SYN window = %v, want DeadlineExceeded", err)
	}
	if err := client.Err(); err != nil {
		t.Fatalf("session died after an open timed out: %v", err)
	}
	echoRoundTrip(t, live, []byte("still alive"))

	// Once the peer accepts, the window frees: the abandoned open's stream
	// arrives and is closed by us (the peer reads EOF), and new opens work.
	for i := 0; i < cfg.AcceptBacklog+1; i++ {
		st, err := peer.Accept()
		if err != nil {
			t.Fatalf("peer Accept %d: %v", i, err)
		}
		if i == cfg.AcceptBacklog {
			st.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := st.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("abandoned stream read at peer = %v, want EOF", err)
			}
		}
	}
	if _, err := client.Open(ctx); err != nil {
		t.Fatalf("Open after the window freed: %v", err)
	}
}

// echoRoundTrip writes msg to c, whose peer echoes, and checks the echo.
func echoRoundTrip(tb testing.TB, c net.Conn, msg []byte) {
	tb.Helper()
	if _, err := c.Write(msg); err != nil {
		tb.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	if _, err := io.ReadFull(c, got); err != nil {
		tb.Fatalf("read echo: %v", err)
	}
	if !bytes.Equal(got, msg) {
		tb.Fatalf("echo = %q, want %q", got, msg)
	}
}

func TestCloseIdempotentAndAcceptFails(t *testing.T) {
	client, server := sessionPair(t, pipeConns, testConfig())
	for i := 0; i < 2; i++ {
		if err := server.Close(); err != nil {
			t.Fatalf("Close #%d = %v, want nil", i+1, err)
		}
	}
	_, err := server.Accept()
	if !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed and ErrSessionClosed", err)
	}
	// Serve loops (grpc, net/http) retry Temporary errors forever.
	if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
		t.Fatalf("Accept after Close = %v is Temporary; Serve loops would spin", err)
	}
	select {
	case <-client.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client session still alive 5s after the server closed")
	}
}

func TestShutdownWaitsForStreams(t *testing.T) {
	client, server := sessionPair(t, tcpConns, testConfig())
	a, b := openAccept(t, client, server)
	done := make(chan error, 1)
	go func() { done <- server.Shutdown(context.Background()) }()
	// The peer's GoAway makes new opens from the client fail (after it arrives).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := client.Open(context.Background())
		if errors.Is(err, ErrDraining) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Open during peer Shutdown = %v, want ErrDraining", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	echoCheck(t, a, b, []byte("in flight"))
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a stream open", err)
	default:
	}
	b.Close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := server.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown = %v, want nil", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	client, server := sessionPair(t, tcpConns, testConfig())
	a, _ := openAccept(t, client, server)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := client.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Shutdown cut off = %v, want net.ErrClosed", err)
	}
}

// TestZeroLengthReadWaits pins the behaviour transport's ReadOnReady relies
// on: Read(nil) blocks until data is buffered, then returns 0 without
// consuming it; after the peer closes it returns EOF.
func TestZeroLengthReadWaits(t *testing.T) {
	a, b := streamPipe(t, tcpConns)
	done := make(chan error, 1)
	go func() {
		_, err := b.Read(nil)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Read(nil) returned %v before any data arrived", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := a.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Read(nil) with data buffered = %v, want nil", err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "data" {
		t.Fatalf("read after Read(nil) = %q, %v; want the data intact", got, err)
	}
	a.Close()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := b.Read(nil); err != io.EOF {
		t.Fatalf("Read(nil) after the peer closed = %v, want EOF", err)
	}
}

// TestShutdownBoundedByContext checks that a peer that stopped reading
// cannot hold Shutdown past its context: queued frames are dropped.
func TestShutdownBoundedByContext(t *testing.T) {
	c1, c2 := net.Pipe() // nobody reads c2: every write to c1 blocks
	defer c2.Close()
	client, err := Client(c1, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	octx, ocancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer ocancel()
	if _, err := client.Open(octx); err == nil {
		t.Fatal("Open succeeded with a peer that never reads")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	client.Shutdown(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Shutdown took %v with a 100ms context (WriteTimeout %v)", took, testConfig().WriteTimeout)
	}
}
