package sidecar

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"google.golang.org/protobuf/proto"
)

// frame returns the podwire.wire.v1 framing of h (without validation).
func frame(h *wirev1.StreamHeader) []byte {
	body, _ := proto.Marshal(h)
	return binary.BigEndian.AppendUint16(nil, uint16(len(body)))[:2:2]
}

func framed(h *wirev1.StreamHeader) []byte {
	body, _ := proto.Marshal(h)
	return append(frame(h), body...)
}

// goodRoundTrip opens a stream to inventory on s and checks the echo.
func goodRoundTrip(t testing.TB, s *mux.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := s.DialService(ctx, &wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_RAW})
	if err != nil {
		t.Fatalf("good peer: DialService: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("good peer: write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("good peer: echo %q, %v; want ping", buf, err)
	}
}

// FuzzInboundHeader feeds arbitrary bytes as the first bytes of an inbound
// stream. The sidecar must answer or close that stream, keep the session,
// and keep serving a well-behaved peer on another session.
func FuzzInboundHeader(f *testing.F) {
	valid := framed(&wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_RAW})
	f.Add(valid)
	f.Add(append(valid, "hello"...))
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0x10, 0x01, 0x00})
	f.Add([]byte{0, 0})
	f.Add([]byte{0})
	f.Add([]byte{0, 5, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(framed(&wirev1.StreamHeader{Version: 2, Service: "inventory"}))
	f.Add(framed(&wirev1.StreamHeader{Version: 1, Service: "Inventory!"}))
	f.Add(framed(&wirev1.StreamHeader{Version: 1, Service: "billing"}))
	f.Add(framed(&wirev1.StreamHeader{Version: 1, Service: "inventory", Metadata: map[string]string{"K": string(bytes.Repeat([]byte("v"), 300))}}))
	p := newPair(f, pairOpts{rawEcho: true})
	bad := p.muxPeer(f, "purchase")
	good := p.muxPeer(f, "purchase")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := bad.Open(context.Background())
		if err != nil {
			t.Fatalf("the fuzzing session died: %v", err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(data)
		c.(interface{ CloseWrite() error }).CloseWrite()
		io.Copy(io.Discard, c) // reply, echo, or nothing; must end
		c.Close()
		goodRoundTrip(t, good)
	})
}

// TestHostilePeersDoNotAffectOthers: silent TCP clients, non-TLS garbage,
// slow headers and oversized headers, all at once, while a good peer's
// round trips keep succeeding promptly.
func TestHostilePeersDoNotAffectOthers(t *testing.T) {
	p := newPair(t, pairOpts{rawEcho: true})
	good := p.muxPeer(t, "purchase")
	slow := p.muxPeer(t, "purchase")
	oversize := p.muxPeer(t, "intruder")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn // closed at the end
	keep := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	// Silent TCP clients (never handshake) and plaintext garbage.
	for i := range 20 {
		c, err := net.Dial("tcp", p.b.InboundAddr())
		if err != nil {
			t.Fatal(err)
		}
		keep(c)
		if i%2 == 0 {
			c.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 100))
		}
	}
	// Slow headers: one byte, then silence, on many streams.
	wg.Go(func() {
		for range 200 {
			c, err := slow.Open(context.Background())
			if err != nil {
				return
			}
			keep(c)
			c.Write([]byte{0})
		}
	})
	// Oversized length prefixes, as fast as they are refused.
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := oversize.Open(context.Background())
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write([]byte{0xff, 0xff, 1, 2, 3})
			io.Copy(io.Discard, c)
			c.Close()
		}
	})
	var worst time.Duration
	for range 50 {
		start := time.Now()
		goodRoundTrip(t, good)
		worst = max(worst, time.Since(start))
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	if worst > time.Second {
		t.Errorf("slowest good round trip %v under attack, want < 1s", worst)
	}
	if got := counterValue(t, p.b, "podwire_sidecar_refusals_total", "reason", "bad_header"); got < 1 {
		t.Errorf("bad_header refusals = %v, want the oversized headers counted", got)
	}
	t.Logf("slowest good round trip under attack: %v", worst)
}

// TestHandshakeFloodIsCapped: silent TCP connections beyond
// MaxPendingHandshakes are closed at once and counted as
// "handshake_limit" refusals; a peer's live session keeps working, and a
// new good peer gets through once the silent ones' handshake deadline
// frees the slots.
func TestHandshakeFloodIsCapped(t *testing.T) {
	const maxPending, extra = 4, 30
	p := newPair(t, pairOpts{rawEcho: true, maxPending: maxPending})
	waitReady(t, p.a) // A's session to B is up: no handshake of A's takes a slot
	good := p.muxPeer(t, "purchase")
	goodRoundTrip(t, good) // B has finished good's handshake and freed its slot
	var silent []net.Conn
	for range maxPending + extra {
		c, err := net.Dial("tcp", p.b.InboundAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		silent = append(silent, c)
	}
	closed := closedWithin(silent, 500*time.Millisecond)
	t.Logf("%d of %d silent connections closed within 500ms (cap %d)", closed, len(silent), maxPending)
	if closed != extra {
		t.Errorf("%d of %d silent connections were closed within 500ms, want the %d over the cap", closed, maxPending+extra, extra)
	}
	if got := counterValue(t, p.b, "podwire_sidecar_refusals_total", "reason", "handshake_limit"); got != extra {
		t.Errorf("handshake_limit refusals = %v, want %d", got, extra)
	}
	goodRoundTrip(t, good) // the live session is not affected
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := tls.Dial("tcp", p.b.InboundAddr(), p.pki.clientTLS(t, "purchase", "inventory"))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new good peer still refused 5s into the flood (handshake deadline 1s): %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// closedWithin reads from every conn at once and counts those the server
// closed (EOF or reset, not a read timeout) within d.
func closedWithin(conns []net.Conn, d time.Duration) int {
	var n atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(d))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return int(n.Load())
}
