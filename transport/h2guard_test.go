package transport

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestH2RapidReset (#12.8): a client with a valid certificate sends
// HEADERS+RST_STREAM pairs as fast as it can on the h2 port. The server
// advertises SETTINGS_MAX_CONCURRENT_STREAMS (grpc-go's own defence keys off
// it) and closes the connection once the resets exceed the budget; other
// clients keep being served.
func TestH2RapidReset(t *testing.T) {
	dir := testCertDir(t, "inventory", "client")
	s := startServer(t, serverTLS(ListenConfig{Service: "inventory", SocketDir: shortTempDir(t)}, dir, "inventory"))
	conf := certSourceT(t, dir, "client").ClientConfig("inventory", []string{ALPNGRPC})
	tc, err := tls.Dial("tcp", s.ln.TLSAddr().String(), conf)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer tc.Close()

	type result struct {
		maxStreams uint32
		goAway     bool
		err        error
	}
	done := make(chan result, 1)
	go func() { // read what the server sends until it closes
		var r result
		fr := http2.NewFramer(io.Discard, tc)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				r.err = err
				done <- r
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if v, ok := f.Value(http2.SettingMaxConcurrentStreams); ok {
					r.maxStreams = v
				}
			case *http2.GoAwayFrame:
				r.goAway = true
			}
		}
	}()

	closedBefore := counterValue(t, h2ResetsClosed)
	pairs, elapsed, werr := rapidReset(tc, 2_000_000, 15*time.Second, done)
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("connection still open after %d HEADERS+RST_STREAM pairs in %v (last write error %v)", pairs, elapsed, werr)
	}
	// pairs counts what the client wrote, most of it still in socket
	// buffers when the server, over its budget, closed the connection.
	t.Logf("rapid reset: connection closed after %d HEADERS+RST_STREAM pairs written in %v (GOAWAY %v, read error %v, write error %v); SETTINGS_MAX_CONCURRENT_STREAMS %d",
		pairs, elapsed.Round(time.Millisecond), r.goAway, r.err, werr, r.maxStreams)
	if r.maxStreams != DefaultMaxConcurrentStreams {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want %d", r.maxStreams, DefaultMaxConcurrentStreams)
	}
	if got := counterValue(t, h2ResetsClosed) - closedBefore; got != 1 {
		t.Errorf("podwire_transport_h2_rapid_reset_closed_total grew by %v, want 1", got)
	}
	// The server keeps serving other clients.
	if _, err := check(t, dialT(t, "tls://"+s.ln.TLSAddr().String(), tlsFiles(dir, "client"), WithServerName("inventory"))); err != nil {
		t.Errorf("health check of a well-behaved client after the attack: %v", err)
	}
}

// rapidReset writes the client preface, then HEADERS+RST_STREAM pairs on
// new streams until max pairs, the time limit, a write error or done has a
// value; it returns the pairs written and the time taken.
func rapidReset[T any](tc *tls.Conn, max int, limit time.Duration, done chan T) (int, time.Duration, error) {
	bw := bufio.NewWriterSize(tc, 64<<10)
	fr := http2.NewFramer(bw, nil)
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":path", "/grpc.health.v1.Health/Check"},
		{":authority", "inventory"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	start := time.Now()
	bw.WriteString(http2.ClientPreface)
	if err := fr.WriteSettings(); err != nil {
		return 0, 0, err
	}
	pairs := 0
	for pairs < max && time.Since(start) < limit {
		id := uint32(2*pairs + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hdr.Bytes(), EndHeaders: true}); err != nil {
			return pairs, time.Since(start), err
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			return pairs, time.Since(start), err
		}
		pairs++
		if pairs%64 == 0 {
			if err := bw.Flush(); err != nil {
				return pairs, time.Since(start), err
			}
			if len(done) > 0 {
				break
			}
		}
	}
	return pairs, time.Since(start), bw.Flush()
}

// h2Stream is a client byte stream with known RST_STREAM frames: the
// preface, SETTINGS, and for each stream HEADERS, DATA and RST_STREAM.
func h2Stream(tb testing.TB, streams int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	for i := range streams {
		id := uint32(2*i + 1)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x82, 0x86}, EndHeaders: true})
		fr.WriteData(id, false, bytes.Repeat([]byte{byte(i)}, i*37%300))
		fr.WriteRSTStream(id, http2.ErrCodeCancel)
		fr.WritePing(false, [8]byte{byte(i)})
	}
	return buf.Bytes()
}

// TestH2ScannerCounts: the scanner finds every RST_STREAM however the
// stream is cut into reads.
func TestH2ScannerCounts(t *testing.T) {
	const streams = 50
	b := h2Stream(t, streams)
	for _, chunk := range []int{1, 2, 8, 9, 10, 24, 100, 4096, len(b)} {
		s := h2Scanner{preface: len(h2Preface)}
		got := 0
		for rest := b; len(rest) > 0; {
			k := min(chunk, len(rest))
			got += s.feed(rest[:k])
			rest = rest[k:]
		}
		if got != streams {
			t.Errorf("chunks of %d: %d resets, want %d", chunk, got, streams)
		}
	}
}

// FuzzH2Scanner: on any bytes the count does not depend on how they are
// cut into reads, and the scanner never panics.
func FuzzH2Scanner(f *testing.F) {
	f.Add(h2Stream(f, 3), uint8(7))
	f.Add([]byte(h2Preface+"\x00\x00\x04\x03\x00\x00\x00\x00\x01\x00\x00\x00\x08"), uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0x03}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		whole := h2Scanner{preface: len(h2Preface)}
		want := whole.feed(b)
		step := int(cut)%16 + 1
		parts := h2Scanner{preface: len(h2Preface)}
		got := 0
		for rest := b; len(rest) > 0; {
			k := min(step, len(rest))
			got += parts.feed(rest[:k])
			rest = rest[k:]
		}
		if got != want || parts != whole {
			t.Fatalf("cut every %d bytes: %d resets, state %+v; whole: %d, state %+v", step, got, parts, want, whole)
		}
	})
}

// TestH2GuardBudget: the budget allows a burst, refills over time, and
// refuses a sustained rate above h2ResetsPerSecond.
func TestH2GuardBudget(t *testing.T) {
	now := time.Now()
	g := &h2Guard{tokens: h2ResetBurst, last: now}
	if !g.spend(h2ResetBurst, now) {
		t.Fatalf("a burst of %d refused, want allowed", h2ResetBurst)
	}
	if g.spend(1, now) {
		t.Fatal("one more reset with an empty budget allowed, want refused")
	}
	g = &h2Guard{tokens: 0, last: now}
	if !g.spend(h2ResetsPerSecond/2, now.Add(time.Second)) {
		t.Fatalf("%d resets a second after an empty budget refused, want allowed", h2ResetsPerSecond/2)
	}
	if errors.Is(ErrTooManyResets, ErrTooManyHandshakes) {
		t.Fatal("ErrTooManyResets must be its own sentinel")
	}
}

// counterValue reads a counter.
func counterValue(tb testing.TB, c prometheus.Counter) float64 {
	tb.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
