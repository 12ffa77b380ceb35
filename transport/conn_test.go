package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podwire/podwire/mux"
	"google.golang.org/grpc/mem"
)

// countingPool is a mem.BufferPool that counts buffers out.
type countingPool struct{ out atomic.Int64 }

func (p *countingPool) Get(n int) *[]byte { p.out.Add(1); b := make([]byte, n); return &b }
func (p *countingPool) Put(*[]byte)       { p.out.Add(-1) }

// socketPair returns both ends of a fresh connection over network.
func socketPair(tb testing.TB, network string) (client, server net.Conn) {
	tb.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(shortTempDir(tb), "pair.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := acceptOne(ln)
	client, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		tb.Fatal("accept failed")
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestHandshakesHandGRPCTheSocket: for Unix and plaintext TCP conns the
// credentials give grpc the *net.UnixConn or *net.TCPConn itself, so grpc
// pools its read buffer (an idle channel then holds none); a server conn
// whose first-byte deadline is still armed keeps its wrapper.
func TestHandshakesHandGRPCTheSocket(t *testing.T) {
	for _, tt := range []struct {
		network string
		kind    Kind
	}{{"unix", KindUnix}, {"tcp", KindTCP}} {
		t.Run(tt.network, func(t *testing.T) {
			c, s := socketPair(t, tt.network)
			ai := tcpAuthInfo(c.RemoteAddr())
			if tt.kind == KindUnix {
				ai = unixAuthInfo(unknownCred, c.RemoteAddr())
			}
			got, _, err := clientCreds{}.ClientHandshake(ctxT(t), "localhost", &clientConn{Conn: c, ai: ai})
			if err != nil {
				t.Fatal(err)
			}
			if got != c {
				t.Errorf("ClientHandshake returned %T, want the dialed %T", got, c)
			}
			sc := newServerConn(s, ai, time.Minute)
			if got, _, _ := (serverCreds{}).ServerHandshake(sc); got != sc {
				t.Errorf("ServerHandshake with the first-byte deadline armed returned %T, want the *serverConn", got)
			}
			_ = sc.SetDeadline(time.Now().Add(time.Minute)) // what grpc does before its handshake
			if got, _, _ := (serverCreds{}).ServerHandshake(sc); got != s {
				t.Errorf("ServerHandshake after grpc's SetDeadline returned %T, want the accepted %T", got, s)
			}
		})
	}
}

// muxStreamPair opens one stream over a mux session on a pipe.
func muxStreamPair(tb testing.TB) (opened, accepted net.Conn) {
	tb.Helper()
	a, b := net.Pipe()
	srvSess := make(chan *mux.Session, 1)
	go func() {
		s, err := mux.Server(b, mux.DefaultConfig())
		if err != nil {
			b.Close()
		}
		srvSess <- s
	}()
	cli, err := mux.Client(a, mux.DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	srv := <-srvSess
	if srv == nil {
		tb.Fatal("mux.Server failed")
	}
	tb.Cleanup(func() { cli.Close(); srv.Close() })
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := srv.Accept()
		acc <- c
	}()
	opened, err = cli.Open(ctxT(tb))
	if err != nil {
		tb.Fatal(err)
	}
	// The stream reaches the peer with its first bytes.
	if _, err := opened.Write([]byte("x")); err != nil {
		tb.Fatal(err)
	}
	accepted = <-acc
	if accepted == nil {
		tb.Fatal("Accept failed")
	}
	if _, err := io.ReadFull(accepted, make([]byte, 1)); err != nil {
		tb.Fatal(err)
	}
	return opened, accepted
}

// TestReadOnReadyHoldsNoBufferWhileIdle: on a mux stream, ReadOnReady
// takes a pooled buffer only once bytes arrived, returns them, and holds
// nothing after the stream ends.
func TestReadOnReadyHoldsNoBufferWhileIdle(t *testing.T) {
	opened, accepted := muxStreamPair(t)
	rs := grpcConn(&authStream{Conn: accepted, ai: tcpAuthInfo(accepted.RemoteAddr())})
	rr, ok := rs.(*authStream)
	if !ok {
		t.Fatalf("grpcConn(mux stream) = %T, want *authStream", rs)
	}
	pool := &countingPool{}
	type result struct {
		b   *[]byte
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, n, err := rr.ReadOnReady(32<<10, pool)
		done <- result{b, n, err}
	}()
	time.Sleep(50 * time.Millisecond)
	if got := pool.out.Load(); got != 0 {
		t.Errorf("buffers out while no data = %d, want 0", got)
	}
	if _, err := opened.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != 5 || string((*r.b)[:r.n]) != "hello" {
		t.Fatalf("ReadOnReady = %d, %v, want 5 bytes \"hello\"", r.n, r.err)
	}
	if got := pool.out.Load(); got != 1 {
		t.Errorf("buffers out after a read = %d, want 1 (the caller's)", got)
	}
	pool.Put(r.b)
	opened.Close()
	ctx, cancel := context.WithTimeout(ctxT(t), 5*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); accepted.Close() }()
	b, n, err := rr.ReadOnReady(32<<10, pool)
	if err == nil || b != nil || n != 0 {
		t.Fatalf("ReadOnReady after the peer closed = %v, %d, %v, want nil, 0 and an error", b, n, err)
	}
	if !errors.Is(err, io.EOF) && ctx.Err() != nil {
		t.Errorf("ReadOnReady after the peer closed = %v, want EOF before the 5s guard", err)
	}
	if got := pool.out.Load(); got != 0 {
		t.Errorf("buffers out after the stream ended = %d, want 0", got)
	}
}

// BenchmarkMuxStreamRead compares the read side of a ping-pong (64 B and
// 16 KiB messages) on
// a mux stream as grpc does it with a private bufio.Reader (32 KiB per
// channel end, held while idle) and with ReadOnReady and a pooled buffer
// (held only while bytes wait): the cost of the idle saving per read.
func BenchmarkMuxStreamRead(b *testing.B) {
	for _, size := range []int{64, 16 << 10} {
		for _, mode := range []string{"bufio", "ReadOnReady"} {
			b.Run(fmt.Sprintf("%s/%dB", mode, size), func(b *testing.B) { benchMuxPingPong(b, mode, size) })
		}
	}
}

// benchMuxPingPong echoes size-byte messages over a mux stream whose
// echoing side reads as mode says.
func benchMuxPingPong(b *testing.B, mode string, size int) {
	{
		{
			opened, accepted := muxStreamPair(b)
			var read func(p []byte) error
			switch mode {
			case "bufio":
				br := bufio.NewReaderSize(accepted, 32<<10)
				read = func(p []byte) error { _, err := io.ReadFull(br, p); return err }
			default:
				rs := &authStream{Conn: accepted}
				pool := mem.DefaultBufferPool()
				read = func(p []byte) error {
					for got := 0; got < len(p); {
						buf, n, err := rs.ReadOnReady(32<<10, pool)
						if err != nil {
							return err
						}
						got += copy(p[got:], (*buf)[:n])
						pool.Put(buf)
					}
					return nil
				}
			}
			echo := make(chan error, 1)
			go func() {
				p := make([]byte, size)
				for {
					if err := read(p); err != nil {
						echo <- err
						return
					}
					if _, err := accepted.Write(p); err != nil {
						echo <- err
						return
					}
				}
			}()
			msg, back := make([]byte, size), make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := opened.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(opened, back); err != nil {
					b.Fatal(err)
				}
			}
			opened.Close()
			accepted.Close()
			<-echo
		}
	}
}
