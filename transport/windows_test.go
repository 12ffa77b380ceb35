package transport

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
)

// frameCounter is a loopback TCP proxy that parses the HTTP/2 frames going
// each way and counts PING and WINDOW_UPDATE frames.
type frameCounter struct {
	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex // guards counts
	// counts is frames by type, both directions.
	counts map[http2.FrameType]int
}

// newFrameCounter proxies a new loopback port to backend until Cleanup.
func newFrameCounter(tb testing.TB, backend string) *frameCounter {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &frameCounter{ln: ln, counts: map[http2.FrameType]int{}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				return
			}
			f.wg.Add(2)
			go f.copy(b, c, true)
			go f.copy(c, b, false)
		}
	}()
	tb.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

// copy moves src to dst and counts the frames on the way; the client's
// side starts with the connection preface.
func (f *frameCounter) copy(dst, src net.Conn, fromClient bool) {
	defer f.wg.Done()
	defer dst.Close()
	defer src.Close()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if fromClient {
			if _, err := io.ReadFull(pr, make([]byte, len(http2.ClientPreface))); err != nil {
				io.Copy(io.Discard, pr)
				return
			}
		}
		fr := http2.NewFramer(nil, pr)
		for {
			fh, err := fr.ReadFrame()
			if err != nil {
				io.Copy(io.Discard, pr)
				return
			}
			f.mu.Lock()
			f.counts[fh.Header().Type]++
			f.mu.Unlock()
		}
	}()
	io.Copy(dst, io.TeeReader(src, pw))
	pw.Close()
	<-done
}

// snapshot returns the PING and WINDOW_UPDATE counts so far.
func (f *frameCounter) snapshot() (pings, updates int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[http2.FramePing], f.counts[http2.FrameWindowUpdate]
}

// TestStaticWindowsSendNoPings: with podwire's default static windows,
// unary calls after the first put no PING (BDP) and no WINDOW_UPDATE on
// the wire; with grpc's dynamic windows (the bare grpc-go behaviour) the
// same calls do. A change that silently dropped the static windows fails.
func TestStaticWindowsSendNoPings(t *testing.T) {
	tests := []struct {
		name      string
		dopts     []DialOption
		sopts     []ServerOption
		wantPings bool
	}{
		{"default static windows", nil, nil, false},
		{"explicit static windows", []DialOption{WithStaticWindows(1<<20, 2<<20)}, []ServerOption{WithServerStaticWindows(1<<20, 2<<20)}, false},
		{"BDP windows both ends", []DialOption{WithBDPWindows()}, []ServerOption{WithServerBDPWindows()}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, ListenConfig{Service: "inventory", NoUnix: true, PlainAddr: "127.0.0.1:0"}, tt.sopts...)
			fc := newFrameCounter(t, s.ln.PlainAddr().String())
			cc := dialT(t, "tcp://"+fc.ln.Addr().String(), append([]DialOption{WithInsecureLoopback()}, tt.dopts...)...)
			if _, err := check(t, cc); err != nil {
				t.Fatal(err)
			}
			p0, u0 := fc.snapshot()
			for range 20 {
				if _, err := check(t, cc); err != nil {
					t.Fatal(err)
				}
			}
			p1, u1 := fc.snapshot()
			pings, updates := p1-p0, u1-u0
			if tt.wantPings && pings == 0 {
				t.Errorf("20 calls with BDP windows: no PING frames; the counter does not see what it should")
			}
			if !tt.wantPings && (pings != 0 || updates != 0) {
				t.Errorf("20 calls with static windows: %d PING and %d WINDOW_UPDATE frames, want none", pings, updates)
			}
			t.Logf("20 calls: %d PING, %d WINDOW_UPDATE frames", pings, updates)
		})
	}
}

func TestStaticWindowsRejectsSmall(t *testing.T) {
	if _, err := DialOptions(WithStaticWindows(1024, 1<<20)); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("DialOptions(WithStaticWindows(1024, 1 MiB)) = %v, want an error naming the 64 KiB floor", err)
	}
	if _, err := ServerOptions(WithServerStaticWindows(1<<20, 10)); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("ServerOptions(WithServerStaticWindows(1 MiB, 10)) = %v, want an error naming the 64 KiB floor", err)
	}
}

// The flow windows reach grpc as options: one static pair on each side by
// default, none with BDP windows.
func TestWindowOptionsInUse(t *testing.T) {
	count := func(opts []grpc.ServerOption) int { return len(opts) }
	def, err := ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	bdp, err := ServerOptions(WithServerBDPWindows())
	if err != nil {
		t.Fatal(err)
	}
	if count(def)-count(bdp) != 2 {
		t.Errorf("ServerOptions: %d options by default, %d with BDP windows; want the default to add the two static windows", count(def), count(bdp))
	}
}
