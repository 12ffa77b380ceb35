package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer accepts TCP connections on loopback, runs a server session on
// each and serves the "inventory" echo service on it.
type echoServer struct {
	addr string
	mu   sync.Mutex // guards sessions
	sess []*Session
}

func newEchoServer(tb testing.TB, cfg Config) *echoServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	es := &echoServer{addr: ln.Addr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := Server(c, cfg)
			if err != nil {
				tb.Error(err)
				return
			}
			es.mu.Lock()
			es.sess = append(es.sess, s)
			es.mu.Unlock()
			acceptService(tb, s, "inventory")
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
		es.killAll()
	})
	return es
}

// firstSession waits for the server side of the first session.
func (es *echoServer) firstSession(tb testing.TB) *Session {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		es.mu.Lock()
		n := len(es.sess)
		es.mu.Unlock()
		if n > 0 {
			es.mu.Lock()
			defer es.mu.Unlock()
			return es.sess[0]
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatal("no server session within 5s")
	return nil
}

// killAll closes every server session, killing the clients' sessions.
func (es *echoServer) killAll() {
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, s := range es.sess {
		s.Close()
	}
	es.sess = nil
}

// countingDialer dials TCP and counts attempts; fail makes it fail.
type countingDialer struct {
	dials atomic.Int32
	fail  atomic.Bool
}

func (d *countingDialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	d.dials.Add(1)
	if d.fail.Load() {
		return nil, errors.New("dial refused by test")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", addr)
}

// countMetrics counts redials; the rest is nopMetrics.
type countMetrics struct {
	nopMetrics
	redialOK, redialErr atomic.Int32
}

func (m *countMetrics) Redial(ok bool) {
	if ok {
		m.redialOK.Add(1)
	} else {
		m.redialErr.Add(1)
	}
}

func newTestPool(tb testing.TB, d *countingDialer, edit func(*PoolConfig)) *Pool {
	tb.Helper()
	cfg := DefaultPoolConfig()
	cfg.Session = testConfig()
	cfg.Dial = d.dial
	cfg.BackoffBase = 20 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	p, err := NewPool(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

func TestPoolDedupAndSpill(t *testing.T) {
	es := newEchoServer(t, testConfig())
	var d countingDialer
	p := newTestPool(t, &d, func(c *PoolConfig) { c.MaxStreamsPerSession = 4 })
	ctx := context.Background()
	const n = 12
	var wg sync.WaitGroup
	conns := make([]net.Conn, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.DialService(ctx, es.addr, validHeader())
			if err != nil {
				t.Errorf("DialService %d: %v", i, err)
				return
			}
			conns[i] = c
			echoRoundTrip(t, c, []byte(fmt.Sprint("stream ", i)))
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	infos := p.Sessions()
	if got, want := len(infos), n/4; got != want {
		t.Errorf("sessions = %d, want %d (12 streams, 4 per session)", got, want)
	}
	for _, info := range infos {
		if info.Streams > 4 || info.Addr != es.addr || info.Role != RoleClient {
			t.Errorf("session info %+v: want <= 4 streams, addr %s, role client", info, es.addr)
		}
	}
	if got := int(d.dials.Load()); got != len(infos) {
		t.Errorf("dials = %d, want one per session (%d)", got, len(infos))
	}
}

func TestPoolRedialAfterDeath(t *testing.T) {
	es := newEchoServer(t, testConfig())
	var d countingDialer
	m := &countMetrics{}
	p := newTestPool(t, &d, func(c *PoolConfig) { c.Session.Metrics = m })
	ctx := context.Background()
	c, err := p.DialService(ctx, es.addr, validHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	es.killAll()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("Read on a killed session = %v, want ErrSessionClosed", err)
	}
	c2, err := p.DialService(ctx, es.addr, validHeader())
	if err != nil {
		t.Fatalf("DialService after the session died: %v", err)
	}
	defer c2.Close()
	echoRoundTrip(t, c2, []byte("after redial"))
	if got := m.redialOK.Load(); got != 1 {
		t.Errorf("successful redials = %d, want 1", got)
	}
}

func TestPoolBackoff(t *testing.T) {
	es := newEchoServer(t, testConfig())
	var d countingDialer
	d.fail.Store(true)
	p := newTestPool(t, &d, nil)
	// Three failed dials in a row back off 20, 40, 80 ms (with jitter,
	// at least half of each).
	start := time.Now()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := p.Open(ctx, es.addr)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Open %d with a failing dialer = %v, want the dial error", i, err)
		}
	}
	if took, min := time.Since(start), 30*time.Millisecond; took < min {
		t.Errorf("3 failing dials took %v, want >= %v of backoff", took, min)
	}
	// A caller whose deadline ends before the next allowed dial fails at once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	before := d.dials.Load()
	if _, err := p.Open(ctx, es.addr); err == nil {
		t.Fatal("Open during backoff succeeded with a failing dialer")
	}
	d.fail.Store(false)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	c, err := p.Open(ctx2, es.addr)
	if err != nil {
		t.Fatalf("Open after the dialer recovered: %v", err)
	}
	c.Close()
	if got := d.dials.Load() - before; got != 1 {
		t.Errorf("dials after backoff = %d, want 1", got)
	}
}

func TestPoolIdleRelease(t *testing.T) {
	es := newEchoServer(t, testConfig())
	var d countingDialer
	p := newTestPool(t, &d, func(c *PoolConfig) { c.IdleTimeout = 50 * time.Millisecond })
	c, err := p.DialService(context.Background(), es.addr, validHeader())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if got := len(p.Sessions()); got != 1 {
		t.Fatalf("sessions with a stream open = %d, want 1 (not idle)", got)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(p.Sessions()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle session not released within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPoolShutdownAndClose(t *testing.T) {
	es := newEchoServer(t, testConfig())
	var d countingDialer
	p := newTestPool(t, &d, nil)
	c, err := p.DialService(context.Background(), es.addr, validHeader())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c2, err := p.Open(context.Background(), es.addr)
		if err == nil {
			c2.Close() // opened before Shutdown began
		}
		if errors.Is(err, ErrPoolClosed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Open during Shutdown = %v, want ErrPoolClosed", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	echoRoundTrip(t, c, []byte("draining")) // in-flight streams keep working
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
	for i := range 2 {
		if err := p.Close(); err != nil {
			t.Fatalf("Close #%d after Shutdown = %v", i+1, err)
		}
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown = %v", err)
	}
}

func TestPoolReverseStreams(t *testing.T) {
	es := newEchoServer(t, testConfig())
	var d countingDialer
	got := make(chan string, 1)
	p := newTestPool(t, &d, func(c *PoolConfig) {
		c.Accept = func(c net.Conn) {
			defer c.Close()
			b, _ := io.ReadAll(c)
			got <- string(b)
		}
	})
	c, err := p.Open(context.Background(), es.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := es.firstSession(t).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rc.Write([]byte("reverse call"))
	rc.(interface{ CloseWrite() error }).CloseWrite()
	select {
	case s := <-got:
		if s != "reverse call" {
			t.Errorf("Accept handler read %q, want %q", s, "reverse call")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reverse stream never reached PoolConfig.Accept")
	}
	rc.Close()
}

func TestPoolConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  PoolConfig
		ok   bool
	}{
		{"zero with dial", PoolConfig{Dial: (&countingDialer{}).dial}, true},
		{"no dial", PoolConfig{}, false},
		{"negative cap", PoolConfig{Dial: (&countingDialer{}).dial, MaxStreamsPerSession: -1}, false},
		{"max below base", PoolConfig{Dial: (&countingDialer{}).dial, BackoffBase: time.Second, BackoffMax: time.Millisecond}, false},
		{"base above default max", PoolConfig{Dial: (&countingDialer{}).dial, BackoffBase: 5 * time.Second}, true},
		{"negative max", PoolConfig{Dial: (&countingDialer{}).dial, BackoffMax: -1}, false},
		{"bad session", PoolConfig{Dial: (&countingDialer{}).dial, Session: Config{WriteTimeout: -1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestPoolRecoversWithinBackoffMax: after an outage long enough to reach
// the backoff cap, a peer that returns is reachable again within BackoffMax
// (plus scheduling slack), with callers retrying the way a sidecar's app
// connections do. The scale is shrunk 10× from the defaults; the shipped
// cap itself is bounded below.
func TestPoolRecoversWithinBackoffMax(t *testing.T) {
	// The default cap is what a returning peer waits at worst: it must
	// leave room in the 5 s recovery the container suite asserts
	// (integration faults test, disconnect case).
	if got, limit := DefaultPoolConfig().BackoffMax, 2*time.Second; got > limit {
		t.Errorf("DefaultPoolConfig().BackoffMax = %v, want ≤ %v so a returning peer is redialed well within 5 s", got, limit)
	}

	es := newEchoServer(t, testConfig())
	var d countingDialer
	d.fail.Store(true)
	const base, capMax = 10 * time.Millisecond, 200 * time.Millisecond
	p := newTestPool(t, &d, func(c *PoolConfig) { c.BackoffBase, c.BackoffMax = base, capMax })

	try := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		c, err := p.DialService(ctx, es.addr, validHeader())
		if err == nil {
			c.Close()
		}
		return err
	}
	// Fail long enough for the backoff to reach its cap (10+20+...+200 ms).
	outage := time.Now().Add(time.Second)
	for time.Now().Before(outage) {
		if err := try(); err == nil {
			t.Fatal("DialService succeeded while every dial fails")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.fail.Store(false)
	back := time.Now()
	for try() != nil {
		if time.Since(back) > capMax+300*time.Millisecond {
			t.Fatalf("peer back for %v and the pool still fails; want recovery within BackoffMax %v", time.Since(back), capMax)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("recovered %v after the peer returned (BackoffMax %v, %d dials)", time.Since(back).Round(time.Millisecond), capMax, d.dials.Load())
}
