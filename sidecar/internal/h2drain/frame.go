package h2drain

import (
	"encoding/binary"
	"math"
)

// HTTP/2 constants used by the tracker (RFC 9113).
const (
	// FrameHeaderLen is the size of an HTTP/2 frame header.
	FrameHeaderLen = 9
	// MaxStreamID is the largest stream id, 2³¹−1: the last-stream-id of
	// the first GOAWAY of a drain.
	MaxStreamID = math.MaxInt32

	typeHeaders      = 0x1
	typePushPromise  = 0x5
	typePing         = 0x6
	typeGoAway       = 0x7
	typeContinuation = 0x9
	flagAck          = 0x1
	flagEndHeaders   = 0x4
)

// ClientPreface is the first 24 bytes an HTTP/2 client sends.
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// goAwayDebug is the debug data of the GOAWAY frames this package writes;
// HTTP/2 clients log it.
const goAwayDebug = "podwire sidecar draining"

// FrameHeader is a parsed 9-byte HTTP/2 frame header.
type FrameHeader struct {
	Length   uint32 // payload length, 24 bits
	Type     uint8
	Flags    uint8
	StreamID uint32 // reserved bit cleared
}

// ParseFrameHeader parses the first FrameHeaderLen bytes of b.
func ParseFrameHeader(b []byte) FrameHeader {
	_ = b[FrameHeaderLen-1]
	return FrameHeader{
		Length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:     b[3],
		Flags:    b[4],
		StreamID: binary.BigEndian.Uint32(b[5:9]) & MaxStreamID,
	}
}

// AppendFrame appends a frame with header h (its Length is taken from
// payload) and payload to dst.
func AppendFrame(dst []byte, typ, flags uint8, streamID uint32, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	dst = binary.BigEndian.AppendUint32(dst, streamID&MaxStreamID)
	return append(dst, payload...)
}

// GoAwayFrame returns a GOAWAY frame with NO_ERROR, lastStreamID and the
// package's debug data.
func GoAwayFrame(lastStreamID uint32) []byte {
	p := binary.BigEndian.AppendUint32(nil, lastStreamID&MaxStreamID)
	p = binary.BigEndian.AppendUint32(p, 0) // NO_ERROR
	p = append(p, goAwayDebug...)
	return AppendFrame(nil, typeGoAway, 0, 0, p)
}

// PingFrame returns a PING frame (not an ack) carrying data.
func PingFrame(data [8]byte) []byte {
	return AppendFrame(nil, typePing, 0, 0, data[:])
}

// startsHeaderBlock reports whether a frame of this type and flags leaves
// a header block open, so that only CONTINUATION frames may follow.
func startsHeaderBlock(typ, flags uint8) bool {
	switch typ {
	case typeHeaders, typePushPromise, typeContinuation:
		return flags&flagEndHeaders == 0
	}
	return false
}
