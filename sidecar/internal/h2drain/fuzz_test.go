package h2drain

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// genFrames turns fuzz bytes into a stream of whole frames. Input PING
// and GOAWAY frames never use stream 0, so every stream-0 PING or GOAWAY
// in the output is one the test inserted.
func genFrames(data []byte) [][]byte {
	var frames [][]byte
	for len(data) >= 4 {
		typ, flags, n, sid := data[0]%11, data[1], int(data[2]%48), uint32(data[3]%8)
		data = data[4:]
		if (typ == typePing || typ == typeGoAway) && sid == 0 {
			sid = 1
		}
		n = min(n, len(data))
		frames = append(frames, AppendFrame(nil, typ, flags, sid, data[:n]))
		data = data[n:]
	}
	return frames
}

// parseFrames splits b into whole frames; it fails on a torn frame.
func parseFrames(tb testing.TB, b []byte) [][]byte {
	tb.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < FrameHeaderLen {
			tb.Fatalf("output ends inside a frame header: % x", b)
		}
		n := FrameHeaderLen + int(ParseFrameHeader(b).Length)
		if len(b) < n {
			tb.Fatalf("output ends inside a frame payload: want %d bytes, have %d", n, len(b))
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func isInserted(f []byte) bool {
	h := ParseFrameHeader(f)
	return (h.Type == typePing || h.Type == typeGoAway) && h.StreamID == 0
}

// FuzzTracker feeds a random frame stream through a ToClient in random
// chunks, injects GOAWAY frames at random points, and checks that the
// output parses as the input frames, in order and unsplit, with the
// injected frames (in order) only at allowed boundaries: after the first
// frame and never inside a header block.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{4, 0, 6, 0, 1, 2, 3, 4, 5, 6, 0, 0, 3, 1, 'a', 'b', 'c'}, []byte{3, 1, 5, 0, 7})
	f.Add([]byte{1, 0, 2, 1, 'h', 'h', 9, 0, 1, 1, 'c', 9, 4, 0, 1, 0, 1, 2, 1}, []byte{1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		frames := genFrames(stream)
		in := bytes.Join(frames, nil)
		var out bytes.Buffer
		written := 0
		c := NewToClient(&out, func([]byte) { written++ })
		var injected [][]byte
		for off, i := 0, 0; off < len(in); i++ {
			step := 1
			if len(cuts) > 0 {
				step = 1 + int(cuts[i%len(cuts)])%70
				if cuts[i%len(cuts)]%3 == 0 {
					g := GoAwayFrame(uint32(len(injected) + 1))
					injected = append(injected, g)
					if err := c.Inject(g); err != nil {
						t.Fatal(err)
					}
				}
			}
			step = min(step, len(in)-off)
			if _, err := c.Write(in[off : off+step]); err != nil {
				t.Fatal(err)
			}
			off += step
		}
		checkOutput(t, parseFrames(t, out.Bytes()), frames, injected, c.Pending())
		if written != len(injected)-c.Pending() {
			t.Fatalf("onWrite called %d times, want %d", written, len(injected)-c.Pending())
		}
	})
}

// checkOutput matches out against input frames and inserted frames.
func checkOutput(t *testing.T, out, in, injected [][]byte, pending int) {
	t.Helper()
	ii, ji, inBlock := 0, 0, false
	for k, f := range out {
		if isInserted(f) {
			if ii == 0 || inBlock {
				t.Fatalf("frame %d: inserted frame at a forbidden place (after %d input frames, header block open %v)", k, ii, inBlock)
			}
			if ji >= len(injected) || !bytes.Equal(f, injected[ji]) {
				t.Fatalf("frame %d: inserted frame % x out of order", k, f)
			}
			ji++
			continue
		}
		if ii >= len(in) || !bytes.Equal(f, in[ii]) {
			t.Fatalf("frame %d: got % x, want input frame %d", k, f, ii)
		}
		h := ParseFrameHeader(f)
		inBlock = startsHeaderBlock(h.Type, h.Flags)
		ii++
	}
	if ii != len(in) {
		t.Fatalf("output has %d input frames, want %d", ii, len(in))
	}
	if ji != len(injected)-pending {
		t.Fatalf("output has %d inserted frames, want %d (%d pending)", ji, len(injected)-pending, pending)
	}
	if pending > 0 && ii > 0 && !inBlock {
		t.Fatalf("%d frames still pending at a boundary", pending)
	}
}

// FuzzFromClient checks the client-side observer against a reference
// parse: the preface decides HTTP/2, the highest odd HEADERS stream id is
// kept, the ack of our PING is seen, and the bytes pass unchanged.
func FuzzFromClient(f *testing.F) {
	f.Add(true, []byte{1, 4, 0, 1, 6, 1, 8, 0}, uint8(3))
	f.Add(false, []byte{0}, uint8(1))
	f.Fuzz(func(t *testing.T, preface bool, stream []byte, chunk uint8) {
		ping := [8]byte{'p', 'o', 'd', 'w', 'i', 'r', 'e', '!'}
		frames := genFrames(stream)
		if len(frames) > 0 && len(stream) > 4 && stream[4]%2 == 0 {
			frames = append(frames, AppendFrame(nil, typePing, flagAck, 0, ping[:]))
		}
		var in []byte
		if preface {
			in = append(in, ClientPreface...)
		}
		in = append(in, bytes.Join(frames, nil)...)
		var out bytes.Buffer
		c := NewFromClient(&out, ping)
		step := 1 + int(chunk)%40
		for off := 0; off < len(in); off += step {
			if _, err := c.Write(in[off:min(off+step, len(in))]); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatal("bytes changed on the way to the server")
		}
		var wantHighest uint32
		wantAck := false
		for _, fr := range frames {
			h := ParseFrameHeader(fr)
			if h.Type == typeHeaders && h.StreamID%2 == 1 {
				wantHighest = max(wantHighest, h.StreamID)
			}
			if h.Type == typePing && h.Flags&flagAck != 0 && h.Length >= 8 && bytes.Equal(fr[9:17], ping[:]) && h.Length == 8 {
				wantAck = true
			}
		}
		gotH2 := c.HTTP2()
		if preface != gotH2 && len(in) > 0 {
			t.Fatalf("HTTP2() = %v, want %v", gotH2, preface)
		}
		if !preface {
			wantHighest, wantAck = 0, false
		}
		if got := c.HighestStream(); got != wantHighest {
			t.Fatalf("HighestStream() = %d, want %d", got, wantHighest)
		}
		gotAck := false
		select {
		case <-c.acked:
			gotAck = true
		default:
		}
		if gotAck != wantAck {
			t.Fatalf("ack seen = %v, want %v (%s)", gotAck, wantAck, fmt.Sprint(binary.BigEndian.Uint32(ping[:4])))
		}
	})
}
