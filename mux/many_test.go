package mux

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestManyStreams runs 10,000 concurrent streams on one session over TLS:
// all open at once, each carrying a 1 KiB echo, then all closed. It reports
// heap and RSS per open stream and checks both stay bounded and that the
// memory is returned once the streams close. A few worker goroutines drive
// the streams (the race detector caps live goroutines at 8128).
func TestManyStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 streams take a few seconds")
	}
	const n, workers = 10000, 8
	cfg := testConfig()
	cfg.MaxInboundStreams = n
	cfg.AcceptBacklog = n
	// The server half-closes each stream after echoing; keep it from
	// resetting streams the client has not read yet on a slow machine.
	cfg.StreamCloseTimeout = time.Minute
	// Pongs queue behind 10,000 streams' frames; under -race on a loaded
	// 2-core machine that can exceed testConfig's 500 ms.
	cfg.KeepAliveTimeout = 10 * time.Second
	client, server := sessionPair(t, tlsConns, cfg)
	serveEcho(t, server, workers)

	heap0, rss0 := memNow()
	streams := make([]net.Conn, n)
	parallel(t, workers, n, func(i int) error {
		c, err := client.Open(context.Background())
		streams[i] = c
		return err
	})
	msg := []byte(strings.Repeat("x", 1024))
	parallel(t, workers, n, func(i int) error {
		_, err := streams[i].Write(msg)
		return err
	})
	parallel(t, workers, n, func(i int) error {
		got := make([]byte, len(msg))
		_, err := io.ReadFull(streams[i], got)
		return err
	})
	if got := client.NumStreams(); got != n {
		t.Fatalf("client.NumStreams() = %d, want %d", got, n)
	}
	heap1, rss1 := memNow()
	perHeap := float64(heap1-heap0) / n
	perRSS := float64(rss1-rss0) / n
	t.Logf("%d open streams, both ends in this process: heap %+.1f MiB (%.0f B/stream), RSS %+.1f MiB (%.0f B/stream)",
		n, mib(heap1-heap0), perHeap, mib(rss1-rss0), perRSS)
	// Bound: both ends of a stream, each with a 1 KiB receive buffer that
	// was used once, must stay under 16 KiB of heap.
	if perHeap > 16<<10 {
		t.Errorf("heap per open stream = %.0f B, want <= 16 KiB", perHeap)
	}
	parallel(t, workers, n, func(i int) error { return streams[i].Close() })
	deadline := time.Now().Add(10 * time.Second)
	for client.NumStreams()+server.NumStreams() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := client.NumStreams() + server.NumStreams(); got != 0 {
		t.Fatalf("streams left after closing all = %d, want 0", got)
	}
	// yamux frees a stream once both FINs are seen; wait for the last ones.
	for client.ys.NumStreams()+server.ys.NumStreams() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	heap2, _ := memNow()
	t.Logf("after closing all: heap %+.1f MiB vs. before opening", mib(heap2-heap0))
	if leftover := float64(heap2-heap0) / n; leftover > 1024 {
		t.Errorf("heap retained per closed stream = %.0f B, want <= 1 KiB", leftover)
	}
}

// serveEcho accepts streams on s and echoes each one's first KiB with a
// fixed set of workers; streams stay open until the opener closes them.
func serveEcho(tb testing.TB, s *Session, workers int) {
	tb.Helper()
	conns := make(chan net.Conn, 1024)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(conns)
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			for c := range conns {
				if _, err := io.ReadFull(c, buf); err == nil {
					c.Write(buf)
				}
				// Half-closes: the stream stays in both yamux sessions
				// (and in the measurement) until the opener closes it.
				c.Close()
			}
		}()
	}
	tb.Cleanup(func() { s.Close(); wg.Wait() })
}

// parallel runs f(0..n-1) on workers goroutines and fails tb on the first error.
func parallel(tb testing.TB, workers, n int, f func(i int) error) {
	tb.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := f(i); err != nil {
					errc <- fmt.Errorf("item %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
}

// memNow returns live heap bytes after a GC and the process RSS (0 where
// /proc is unavailable).
func memNow() (heap, rss int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), rssBytes()
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
