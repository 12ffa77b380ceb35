//go:build linux

package rawio_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
)

// What only the Linux build does: no allocations, corking, read-ahead
// and ReadOnReady. rawio_test.go holds what every platform shares.

// TestNoAllocs: a read and a write allocate nothing (the callbacks are
// bound once per conn).
func TestNoAllocs(t *testing.T) {
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
	c, s := pair(t, "tcp")
	c.(batcher).BufferReads(64 << 10)
	s.(batcher).BufferReads(64 << 10)
	cert := selfSigned(t)
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13})
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
