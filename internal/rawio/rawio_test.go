package rawio_test

import (
	"bytes"
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
