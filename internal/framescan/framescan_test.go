package framescan

import (
	"bytes"
	"reflect"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stream builds a byte stream of frames; data frames get a body of their
// Length filled with bytes that look like ping headers, so a scanner that
// fails to skip bodies reports phantom pings.
func stream(hs ...Header) []byte {
	var b []byte
	ping := Header{Type: TypePing, Flags: FlagSYN}.Encode(nil)
	for _, h := range hs {
		b = h.Encode(b)
		if h.Type == TypeData {
			b = append(b, bytes.Repeat(ping, int(h.Length)/HeaderSize+1)[:h.Length]...)
		}
	}
	return b
}

// reference decodes a whole stream in one pass, the simple way.
func reference(b []byte) []Header {
	var out []Header
	for len(b) >= HeaderSize {
		h := Decode(b)
		out = append(out, h)
		b = b[HeaderSize:]
		if h.Version != 0 || h.Type > TypeGoAway {
			break
		}
		if h.Type == TypeData {
			if uint64(h.Length) > uint64(len(b)) {
				break
			}
			b = b[h.Length:]
		}
	}
	return out
}

// scanChunks feeds b to a Scanner in chunks of size n and collects headers.
func scanChunks(b []byte, n int) []Header {
	var s Scanner
	var out []Header
	for len(b) > 0 {
		k := min(n, len(b))
		s.Scan(b[:k], func(h Header) bool { out = append(out, h); return true })
		b = b[k:]
	}
	return out
}

func TestScanFollowsFrames(t *testing.T) {
	hs := []Header{
		{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1, Length: 1 << 20},
		{Type: TypeData, StreamID: 1, Length: 100},
		{Type: TypePing, Flags: FlagSYN, Length: 7},
		{Type: TypeData, StreamID: 1, Length: 0, Flags: FlagFIN},
		{Type: TypePing, Flags: FlagACK, Length: 7},
		{Type: TypeData, StreamID: 3, Length: 40000},
		{Type: TypeGoAway, Length: 0},
	}
	b := stream(hs...)
	for _, n := range []int{1, 5, 11, 12, 13, 4096, len(b)} {
		if got := scanChunks(b, n); !reflect.DeepEqual(got, hs) {
			t.Errorf("chunks of %d: headers = %+v, want %+v", n, got, hs)
		}
	}
}

func TestScanStopsAtTheRefusedFrame(t *testing.T) {
	pingSYN := Header{Type: TypePing, Flags: FlagSYN}
	b := stream(Header{Type: TypeData, StreamID: 1, Length: 20}, pingSYN, pingSYN, pingSYN)
	tests := []struct {
		name     string
		chunks   []int // split points
		wantStop int   // index of the chunk where Scan stops
		wantOff  int   // offset returned in that chunk
	}{
		// Frames: data hdr 0-11, body 12-31, pings at 32, 44, 56. The
		// second ping (at 44) is refused.
		{"one chunk", []int{len(b)}, 0, 44},
		{"header split", []int{50, len(b) - 50}, 1, 0},
		{"chunk at header start", []int{44, len(b) - 44}, 1, 0},
		{"header in a later chunk", []int{20, len(b) - 20}, 1, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Scanner
			pings := 0
			fn := func(h Header) bool {
				if h.Type == TypePing && h.Flags&FlagSYN != 0 {
					pings++
					return pings < 2
				}
				return true
			}
			rest := b
			for i, n := range tt.chunks {
				off, ok := s.Scan(rest[:n], fn)
				if !ok {
					if i != tt.wantStop || off != tt.wantOff {
						t.Fatalf("stopped in chunk %d at %d, want chunk %d at %d", i, off, tt.wantStop, tt.wantOff)
					}
					return
				}
				if off != n {
					t.Fatalf("chunk %d: Scan = %d, true; want %d", i, off, n)
				}
				rest = rest[n:]
			}
			t.Fatal("Scan never stopped at the second ping")
		})
	}
}

func TestScanBrokenStream(t *testing.T) {
	b := append(Header{Version: 1, Type: TypePing}.Encode(nil), stream(Header{Type: TypePing})...)
	var s Scanner
	var got []Header
	s.Scan(b, func(h Header) bool { got = append(got, h); return true })
	if !s.Broken() || len(got) != 1 {
		t.Errorf("after a version-1 header: Broken() = %v, headers = %d; want true, 1 (yamux rejects the rest)", s.Broken(), len(got))
	}
}

// FuzzScan: any bytes in any chunking give the headers of a one-pass
// decode, and Scan never reads outside the chunk.
func FuzzScan(f *testing.F) {
	f.Add(stream(Header{Type: TypeData, Length: 30}, Header{Type: TypePing, Flags: FlagSYN}), uint8(5))
	f.Add(stream(Header{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}), uint8(1))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 255, 255, 255, 255, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		n := int(chunk)%64 + 1
		want := reference(b)
		got := scanChunks(b, n)
		if len(want) == 0 && len(got) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunks of %d: headers %+v, want %+v", n, got, want)
		}
	})
}
