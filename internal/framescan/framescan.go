package framescan

import "encoding/binary"

// HeaderSize is the size of a yamux frame header.
const HeaderSize = 12

// Frame types and flags of the yamux wire format.
const (
	TypeData         uint8 = 0
	TypeWindowUpdate uint8 = 1
	TypePing         uint8 = 2
	TypeGoAway       uint8 = 3

	FlagSYN uint16 = 1
	FlagACK uint16 = 2
	FlagFIN uint16 = 4
	FlagRST uint16 = 8
)

// Header is one decoded frame header.
type Header struct {
	Version  uint8
	Type     uint8
	Flags    uint16
	StreamID uint32
	Length   uint32 // body size for TypeData; window delta, ping id or go-away code otherwise
}

// Decode decodes a header from the first HeaderSize bytes of b, which
// must be at least that long.
func Decode(b []byte) Header {
	return Header{
		Version:  b[0],
		Type:     b[1],
		Flags:    binary.BigEndian.Uint16(b[2:4]),
		StreamID: binary.BigEndian.Uint32(b[4:8]),
		Length:   binary.BigEndian.Uint32(b[8:12]),
	}
}

// Encode appends h in wire form to b.
func (h Header) Encode(b []byte) []byte {
	b = append(b, h.Version, h.Type)
	b = binary.BigEndian.AppendUint16(b, h.Flags)
	b = binary.BigEndian.AppendUint32(b, h.StreamID)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// Scanner tracks frame boundaries across the chunks of one direction of a
// yamux stream. The zero value expects a frame header next. A Scanner is
// not safe for concurrent use; one reader owns it.
type Scanner struct {
	hdr    [HeaderSize]byte
	have   int    // bytes of hdr filled
	skip   uint32 // body bytes of the current data frame still to pass
	broken bool   // a header yamux will reject (bad version or type): stop following
}

// Scan follows the frames in p, the next bytes of the stream, and calls
// fn with each header completed in p. If fn returns false Scan stops and
// returns the offset in p where that frame's header begins (0 if it began
// in an earlier chunk) and false; the scanner is then positioned after
// that header, as if the frame had been consumed. Otherwise Scan returns
// len(p) and true. After a header with an unknown version or type, which
// yamux rejects by closing the session, Scan stops following frames and
// passes everything through.
func (s *Scanner) Scan(p []byte, fn func(Header) bool) (int, bool) {
	i := 0
	for i < len(p) && !s.broken {
		if s.skip > 0 {
			n := uint32(len(p) - i)
			if n > s.skip {
				n = s.skip
			}
			s.skip -= n
			i += int(n)
			continue
		}
		start := i - s.have // may be negative: the header began earlier
		n := copy(s.hdr[s.have:], p[i:])
		s.have += n
		i += n
		if s.have < HeaderSize {
			break
		}
		s.have = 0
		h := Decode(s.hdr[:])
		if h.Version != 0 || h.Type > TypeGoAway {
			s.broken = true
		} else if h.Type == TypeData {
			s.skip = h.Length
		}
		if !fn(h) {
			return max(start, 0), false
		}
	}
	return len(p), true
}

// Broken reports whether the scanner saw a header yamux rejects and has
// stopped following frames.
func (s *Scanner) Broken() bool { return s.broken }
