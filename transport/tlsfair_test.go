package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// silentFlood keeps conns connections to addr open from the loopback
// addresses 127.0.0.2 .. 127.0.0.(1+sources), sending nothing and
// reconnecting whenever the server closes one, until stop is called, which
// closes them all and waits.
func silentFlood(tb testing.TB, addr string, conns, sources int) (dials *atomic.Int64, stop func()) {
	tb.Helper()
	dials = new(atomic.Int64)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%sources))}}
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				dials.Add(1)
				stopRead := context.AfterFunc(ctx, func() { c.Close() })
				_, _ = c.Read(make([]byte, 1)) // until the server (or stop) closes it
				stopRead()
				c.Close()
			}
		}()
	}
	return dials, func() { cancel(); wg.Wait() }
}

// TestTLSListenerFairToOtherSources (#12.5): a few hundred silent
// connections that reconnect when closed, from one source or spread over
// 40, never keep a good client from 127.0.0.1 from completing its
// handshake; every one of them gets through.
func TestTLSListenerFairToOtherSources(t *testing.T) {
	tests := []struct {
		name           string
		conns, sources int
	}{
		{"300 silent from 127.0.0.2", 300, 1},
		{"400 silent from 40 addresses", 400, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testCertDir(t, "inventory", "client")
			// No test logger: thousands of refusals logged through t.Log
			// would cost more CPU than the handshakes being measured.
			ln := fairListenerT(t, dir)
			go func() { // a server that takes handshaken conns and closes them
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			addr := ln.Addr().String()
			dials, stop := silentFlood(t, addr, tt.conns, tt.sources)
			defer stop()
			time.Sleep(time.Second) // let the flood fill the slots
			conf := certSourceT(t, dir, "client").ClientConfig("inventory", []string{ALPNMux})
			const good = 20
			var lat []time.Duration
			var failed []error
			for range good {
				start := time.Now()
				d := tls.Dialer{NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}, Config: conf}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := d.DialContext(ctx, "tcp", addr)
				cancel()
				if err != nil {
					failed = append(failed, err)
					continue
				}
				lat = append(lat, time.Since(start))
				c.Close()
			}
			stop()
			slices.Sort(lat)
			summary := "none"
			if len(lat) > 0 {
				summary = fmt.Sprintf("p50 %v, max %v", lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
			}
			t.Logf("%s: %d/%d good handshakes from 127.0.0.1 (%s); flood made %d connections, %d closed by the budget",
				tt.name, len(lat), good, summary, dials.Load(), ln.Rejected())
			if len(failed) > 0 {
				t.Fatalf("%d of %d good clients failed during the flood; first: %v", len(failed), good, failed[0])
			}
		})
	}
}

// fairListenerT is a TLSListener with the default budget and no logger.
func fairListenerT(tb testing.TB, dir string) *TLSListener {
	tb.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	src := certSourceT(tb, dir, "inventory")
	ln, err := NewTLSListener(raw, src.ServerConfig([]string{ALPNMux}), TLSListenerOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// TestPendingSetAdmit walks the budget's decisions.
func TestPendingSetAdmit(t *testing.T) {
	p := newPendingSet(4, 2)
	conn := func(src string) *pendingConn { return &pendingConn{raw: nopConn{}, src: src} }
	a1, a2 := conn("a"), conn("a")
	for _, c := range []*pendingConn{a1, a2} {
		if v, err := p.admit(c); v != nil || err != nil {
			t.Fatalf("admit under the caps = %v, %v", v, err)
		}
	}
	a3 := conn("a")
	if v, err := p.admit(a3); v != a1 || err != nil {
		t.Fatalf("admit over a's share = %v, %v; want a's oldest silent conn evicted", v, err)
	}
	a2.heard.Store(true)
	a3.heard.Store(true)
	if v, err := p.admit(conn("a")); v != nil || !errors.Is(err, ErrTooManyHandshakes) {
		t.Fatalf("admit over a's share with all of a's conns heard = %v, %v; want refused", v, err)
	}
	b1, b2 := conn("b"), conn("b")
	p.admit(b1)
	p.admit(b2) // full: a2, a3, b1, b2
	if v, err := p.admit(conn("b")); v != b1 || err != nil {
		t.Fatalf("admit of b over its share = %v, %v; want b1 evicted", v, err)
	}
	if v, err := p.admit(conn("c")); v == nil || v.src != "b" || err != nil {
		t.Fatalf("admit of c when full = %v, %v; want a silent b conn evicted (a's have all spoken)", v, err)
	}
	p.close()
	if _, err := p.admit(conn("d")); !errors.Is(err, ErrListenerClosed) {
		t.Fatalf("admit after close = %v, want ErrListenerClosed", err)
	}
}

// nopConn is a net.Conn that does nothing.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

func TestSourceOf(t *testing.T) {
	for _, tt := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5}, "10.1.2.3"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "@x", Net: "unix"}, "@x"},
	} {
		if got := sourceOf(tt.addr); got != tt.want {
			t.Errorf("sourceOf(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
