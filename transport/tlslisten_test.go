package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

// tlsListenerT starts a TLSListener on loopback with NAME's certificate
// and the given cap and handshake timeout; it serves until cleanup.
func tlsListenerT(tb testing.TB, dir string, maxPending int, timeout time.Duration) *TLSListener {
	tb.Helper()
	src := certSourceT(tb, dir, "inventory")
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.MaxPendingHandshakes, cfg.HandshakeTimeout = maxPending, timeout
	ln, err := NewTLSListener(raw, src.ServerConfig([]string{ALPNMux}), TLSListenerOptions{Config: cfg, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// closedWithin reports whether the server closed c within d (EOF or a
// reset, not a read timeout).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestTLSListenerCapsPendingHandshakes: silent connections beyond
// MaxPendingHandshakes are closed at once, goroutines stay bounded, and a
// good client gets through once the silent ones' handshake deadline frees
// the slots.
func TestTLSListenerCapsPendingHandshakes(t *testing.T) {
	const maxPending, extra = 4, 40
	const timeout = 700 * time.Millisecond
	dir := testCertDir(t, "inventory", "client")
	ln := tlsListenerT(t, dir, maxPending, timeout)
	go func() { // a server that takes handshaken conns and closes them
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	before := runtime.NumGoroutine()
	var silent []net.Conn
	for range maxPending + extra {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	start := time.Now()
	closed := 0
	for _, c := range silent[maxPending:] {
		if closedWithin(c, timeout/2) {
			closed++
		}
	}
	if closed != extra {
		t.Errorf("%d of %d connections over the cap closed within %v, want all", closed, extra, timeout/2)
	}
	t.Logf("%d connections over the cap of %d closed in %v", closed, maxPending, time.Since(start).Round(time.Millisecond))
	if got := ln.Rejected(); got != extra {
		t.Errorf("Rejected = %d, want %d", got, extra)
	}
	if grown := runtime.NumGoroutine() - before; grown > maxPending+4 {
		t.Errorf("goroutines grew by %d for %d silent connections, want at most the cap %d (+4)", grown, maxPending+extra, maxPending)
	}

	// The first maxPending hold the slots until their deadline; a good
	// client retrying gets through right after.
	cli := certSourceT(t, dir, "client")
	deadline := time.Now().Add(timeout + 3*time.Second)
	for {
		tc, err := tls.Dial("tcp", ln.Addr().String(), cli.ClientConfig("inventory", []string{ALPNMux}))
		if err == nil {
			tc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("good client still refused %v after the silent ones' deadline: %v", timeout+3*time.Second, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, c := range silent[:maxPending] {
		if !closedWithin(c, time.Second) {
			t.Errorf("silent connection %d holding a slot still open after the handshake deadline", i)
		}
	}
}

// TestTLSListenerGoodClientBesideSilentOnes: under the caps (of the
// listener and of one source), silent connections do not delay a good
// client, and Close cuts their handshakes.
func TestTLSListenerGoodClientBesideSilentOnes(t *testing.T) {
	dir := testCertDir(t, "inventory", "client")
	ln := tlsListenerT(t, dir, DefaultMaxPendingHandshakes, 10*time.Second)
	for range DefaultMaxPendingHandshakesPerSource - 1 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	cli := certSourceT(t, dir, "client")
	accepted := acceptOne(ln)
	start := time.Now()
	tc, err := tls.Dial("tcp", ln.Addr().String(), cli.ClientConfig("inventory", []string{ALPNMux}))
	if err != nil {
		t.Fatalf("good client beside %d silent ones: %v", DefaultMaxPendingHandshakesPerSource-1, err)
	}
	defer tc.Close()
	c, ok := <-accepted
	if !ok {
		t.Fatal("Accept returned no connection")
	}
	defer c.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("good handshake took %v beside silent connections", d)
	}
	if got := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; got != ALPNMux {
		t.Errorf("accepted conn ALPN = %q, want %q", got, ALPNMux)
	}
	if ln.Rejected() != 0 {
		t.Errorf("Rejected = %d under the cap, want 0", ln.Rejected())
	}
	for i := range 2 {
		if err := ln.Close(); err != nil {
			t.Errorf("Close #%d = %v", i+1, err)
		}
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

func TestNewTLSListenerBadConfig(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cfg := DefaultConfig()
	cfg.MaxPendingHandshakes = -1 // 0 means the default; a negative value is wrong
	if _, err := NewTLSListener(raw, &tls.Config{}, TLSListenerOptions{Config: cfg}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("NewTLSListener with MaxPendingHandshakes -1 = %v, want ErrBadConfig", err)
	}
}

// TestListenTLSPortCapsHandshakes: Listen's TLS port takes
// MaxPendingHandshakes from ListenConfig.Config, and a gRPC client gets
// through once the silent connections' handshake deadline has passed.
func TestListenTLSPortCapsHandshakes(t *testing.T) {
	const maxPending, extra = 2, 10
	certDir := testCertDir(t, "inventory", "client")
	cfg := serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, certDir, "inventory")
	cfg.Config = DefaultConfig()
	cfg.Config.MaxPendingHandshakes, cfg.Config.HandshakeTimeout = maxPending, 500*time.Millisecond
	s := startServer(t, cfg)
	addr := s.ln.TLSAddr().String()
	var silent []net.Conn
	for range maxPending + extra {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	closed := 0
	for _, c := range silent[maxPending:] {
		if closedWithin(c, 250*time.Millisecond) {
			closed++
		}
	}
	if closed != extra {
		t.Errorf("%d of %d connections over the cap closed within 250ms, want all", closed, extra)
	}
	if got := s.ln.tlsLn.Rejected(); got != extra {
		t.Errorf("Rejected = %d, want %d", got, extra)
	}
	for i, c := range silent[:maxPending] { // they hold the slots until their deadline
		if !closedWithin(c, 3*time.Second) {
			t.Errorf("silent connection %d still open 3s after its 500ms handshake deadline", i)
		}
	}
	cc := dialT(t, "tls://"+addr, tlsFiles(certDir, "client"), WithServerName("inventory"))
	if _, err := check(t, cc); err != nil {
		t.Fatalf("gRPC call after the flood: %v", err)
	}
}
