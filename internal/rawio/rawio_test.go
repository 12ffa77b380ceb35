package rawio_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/mem"

	"github.com/podwire/podwire/internal/rawio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns a connected client/server pair on network, both wrapped.
func pair(t *testing.T, network string) (client, server net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	client, server = rawio.Wrap(c), rawio.Wrap(s)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

var networks = []string{"unix", "tcp"}

func TestWrapKeepsConcreteMethods(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, _ := pair(t, network)
			if rawio.Enabled {
				if _, ok := c.(interface{ Unwrap() net.Conn }); !ok {
					t.Fatalf("Wrap(%s) = %T, not a raw conn", network, c)
				}
			}
			if _, ok := c.(syscall.Conn); !ok {
				t.Errorf("%T lost SyscallConn (SO_PEERCRED needs it)", c)
			}
			if _, ok := c.(interface{ CloseWrite() error }); !ok {
				t.Errorf("%T lost CloseWrite (half-close needs it)", c)
			}
		})
	}
	var p net.Conn = &fakeConn{}
	if got := rawio.Wrap(p); got != p {
		t.Errorf("Wrap of a non-socket conn = %T, want it unchanged", got)
	}
}

type fakeConn struct{ net.Conn }

// TestReadWrite moves a large message both ways (partial writes when the
// socket buffer fills, reads of every size) and checks every byte.
func TestReadWrite(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, s := pair(t, network)
			msg := bytes.Repeat([]byte("podwire-raw-io."), 1<<18) // 3.75 MiB: more than a socket buffer
			errc := make(chan error, 1)
			go func() {
				_, err := c.Write(msg)
				errc <- err
			}()
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(s, got); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Write: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("bytes differ after the round trip")
			}
			if n, err := c.Write(nil); n != 0 || err != nil {
				t.Errorf("Write(nil) = %d, %v; want 0, nil", n, err)
			}
			if n, err := s.Read(nil); n != 0 || err != nil {
				t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

// TestErrorsLikeNetConn checks EOF, half-close, deadlines and Close
// report what net.Conn reports.
func TestErrorsLikeNetConn(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, s := pair(t, network)

			// A deadline wakes a blocked Read with os.ErrDeadlineExceeded.
			_ = s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err := s.Read(make([]byte, 8))
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("Read past deadline: %v; want a timeout wrapping os.ErrDeadlineExceeded", err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "read" {
				t.Errorf("Read error %#v; want *net.OpError with Op read", err)
			}
			_ = s.SetReadDeadline(time.Time{})

			// Half-close: the peer reads the data, then io.EOF.
			if _, err := c.Write([]byte("last")); err != nil {
				t.Fatal(err)
			}
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(s)
			if err != nil || string(b) != "last" {
				t.Fatalf("ReadAll after CloseWrite = %q, %v; want \"last\", nil", b, err)
			}

			// Close wakes a blocked Read with net.ErrClosed.
			done := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 8))
				done <- err
			}()
			time.Sleep(10 * time.Millisecond)
			c.Close()
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Errorf("Read during Close: %v; want net.ErrClosed", err)
			}
			if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after Close: %v; want net.ErrClosed", err)
			}
		})
	}
}

// TestWriteToVanishedPeer gets EPIPE or ECONNRESET as an error, not a
// signal or a hang.
func TestWriteToVanishedPeer(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, s := pair(t, network)
			s.Close()
			buf := make([]byte, 64<<10)
			var err error
			for range 100 {
				if _, err = c.Write(buf); err != nil {
					break
				}
			}
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("Write to a closed peer: %v; want EPIPE or ECONNRESET", err)
			}
		})
	}
}

// TestConcurrentWriters: net.Conn allows concurrent Writes; each lands
// whole.
func TestConcurrentWriters(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, s := pair(t, network)
			const writers, size = 8, 100 << 10
			var wg sync.WaitGroup
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := c.Write(bytes.Repeat([]byte{byte('a' + i)}, size)); err != nil {
						t.Error(err)
					}
				}()
			}
			got := make([]byte, writers*size)
			if _, err := io.ReadFull(s, got); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			for i := 0; i < len(got); i += size {
				if bytes.Count(got[i:i+size], got[i:i+1]) != size {
					t.Fatalf("writes interleaved at offset %d", i)
				}
			}
		})
	}
}

// TestNoAllocs: a read and a write allocate nothing (the callbacks are
// bound once per conn).
func TestNoAllocs(t *testing.T) {
	if !rawio.Enabled {
		t.Skip("raw I/O is Linux-only")
	}
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, s := pair(t, network)
			w, r := []byte("ping"), make([]byte, 4)
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := c.Write(w); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(s, r); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocs per write+read; want 0", allocs)
			}
		})
	}
}

// batcher is what rawio's conns offer a TLS writer and reader.
type batcher interface {
	Cork()
	Flush() error
	BufferReads(n int)
}

// TestCorkHoldsWritesUntilFlush: corked writes reach the peer only at
// Flush, in order, in one piece; after Flush writes go through again.
func TestCorkHoldsWritesUntilFlush(t *testing.T) {
	if !rawio.Enabled {
		t.Skip("raw I/O is Linux-only")
	}
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, s := pair(t, network)
			b := c.(batcher)
			b.Cork()
			for _, part := range []string{"one ", "two ", "three"} {
				if n, err := c.Write([]byte(part)); n != len(part) || err != nil {
					t.Fatalf("corked Write = %d, %v", n, err)
				}
			}
			_ = s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			if n, err := s.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("peer read %d bytes (%v) before Flush; want nothing", n, err)
			}
			_ = s.SetReadDeadline(time.Time{})
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len("one two three"))
			if _, err := io.ReadFull(s, got); err != nil || string(got) != "one two three" {
				t.Fatalf("after Flush peer read %q, %v", got, err)
			}
			if _, err := c.Write([]byte("!")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(s, got[:1]); err != nil || got[0] != '!' {
				t.Fatalf("write after Flush: peer read %q, %v", got[:1], err)
			}
			if err := b.Flush(); err != nil {
				t.Errorf("Flush with nothing held: %v", err)
			}
		})
	}
}

// TestBufferedReadsCarryTLS runs TLS 1.3 over sockets with read-ahead
// and corked writes, as a mux session uses them: messages of every size
// from 1 byte to 1 MiB arrive intact and in order.
func TestBufferedReadsCarryTLS(t *testing.T) {
	if !rawio.Enabled {
		t.Skip("raw I/O is Linux-only")
	}
	c, s := pair(t, "tcp")
	c.(batcher).BufferReads(64 << 10)
	s.(batcher).BufferReads(64 << 10)
	cert := selfSigned(t)
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	ts := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	// Handshake first: a handshake inside a corked Write would wait for a
	// reply to a ClientHello still held in the cork.
	hs := make(chan error, 1)
	go func() { hs <- ts.Handshake() }()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	sizes := []int{1, 100, 16 << 10, 16<<10 + 1, 64 << 10, 200 << 10, 1 << 20}
	errc := make(chan error, 1)
	go func() {
		for i, n := range sizes {
			c.(batcher).Cork()
			_, err := tc.Write(bytes.Repeat([]byte{byte(i)}, n))
			if ferr := c.(batcher).Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i, n := range sizes {
		got := make([]byte, n)
		if _, err := io.ReadFull(ts, got); err != nil {
			t.Fatalf("message %d (%d B): %v", i, n, err)
		}
		if bytes.Count(got, []byte{byte(i)}) != n {
			t.Fatalf("message %d (%d B) arrived damaged", i, n)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	tc.Close()
	ts.Close()
}

// readyReader is grpc-go's optional non-pinning read interface
// (google.golang.org/grpc/internal/transport/readyreader.Reader).
type readyReader interface {
	ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error)
}

// TestReadOnReady: grpc finds ReadOnReady on a rawio conn (so an idle
// channel pins no read buffer), and it returns the bytes, then io.EOF at
// a half-close, without leaking pool buffers.
func TestReadOnReady(t *testing.T) {
	if !rawio.Enabled {
		t.Skip("raw I/O is Linux-only")
	}
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			c, s := pair(t, network)
			rr, ok := s.(readyReader)
			if !ok {
				t.Fatalf("%T has no ReadOnReady: grpc would pin a read buffer per idle channel", s)
			}
			pool := &countingPool{BufferPool: mem.DefaultBufferPool()}
			go func() {
				time.Sleep(10 * time.Millisecond) // ReadOnReady waits first
				_, _ = c.Write([]byte("hello"))
				_ = c.(interface{ CloseWrite() error }).CloseWrite()
			}()
			b, n, err := rr.ReadOnReady(32<<10, pool)
			if err != nil || string((*b)[:n]) != "hello" {
				t.Fatalf("ReadOnReady = %q, %v; want hello", (*b)[:n], err)
			}
			pool.Put(b)
			if _, _, err := rr.ReadOnReady(32<<10, pool); !errors.Is(err, io.EOF) {
				t.Fatalf("ReadOnReady after the peer's CloseWrite: %v; want io.EOF", err)
			}
			if pool.out != 0 {
				t.Errorf("%d pool buffers not given back", pool.out)
			}
		})
	}
}

// countingPool counts buffers taken and not yet given back.
type countingPool struct {
	mem.BufferPool
	out int
}

func (p *countingPool) Get(n int) *[]byte { p.out++; return p.BufferPool.Get(n) }
func (p *countingPool) Put(b *[]byte)     { p.out--; p.BufferPool.Put(b) }
