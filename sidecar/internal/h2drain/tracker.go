package h2drain

// Tracker follows the frame boundaries of one direction of an HTTP/2
// connection (after the client preface, for the client's direction). It
// reads only the 9-byte frame headers and the first 8 payload bytes of
// each frame; it never changes, buffers or reorders the bytes it is fed.
// The zero value is a Tracker at the start of a frame stream. Not safe
// for concurrent use.
type Tracker struct {
	hdr     [FrameHeaderLen]byte
	hn      int         // bytes of hdr filled
	cur     FrameHeader // the frame being read, once hn reached FrameHeaderLen
	left    uint32      // payload bytes of cur not yet fed
	head    [8]byte     // the first payload bytes of cur
	headN   int         // bytes of head filled
	frames  uint64      // frames fed completely
	inBlock bool        // a header block is open: only CONTINUATION may follow

	// OnFrame, when set, is called after each whole frame with its header
	// and its first (up to 8) payload bytes.
	OnFrame func(h FrameHeader, head []byte)
}

// Frames returns the number of whole frames fed so far.
func (t *Tracker) Frames() uint64 { return t.frames }

// AtBoundary reports whether the bytes fed so far end exactly after a
// whole frame that closes any header block, with at least one frame fed:
// the only places a frame may be inserted.
func (t *Tracker) AtBoundary() bool {
	return t.hn == 0 && t.frames > 0 && !t.inBlock
}

// Feed advances the tracker over p.
func (t *Tracker) Feed(p []byte) {
	for len(p) > 0 {
		p = p[t.step(p):]
	}
}

// FeedToBoundary advances over p until the tracker is AtBoundary after at
// least one byte, and returns how many bytes it consumed and whether it
// stopped at a boundary (false: all of p was consumed without reaching
// one).
func (t *Tracker) FeedToBoundary(p []byte) (int, bool) {
	n := 0
	for n < len(p) {
		n += t.step(p[n:])
		if t.AtBoundary() {
			return n, true
		}
	}
	return n, false
}

// step consumes bytes of p (len(p) > 0) that belong to the current
// header or payload, finishing at most one frame, and returns how many.
func (t *Tracker) step(p []byte) int {
	if t.hn < FrameHeaderLen {
		n := copy(t.hdr[t.hn:], p)
		t.hn += n
		if t.hn < FrameHeaderLen {
			return n
		}
		t.cur = ParseFrameHeader(t.hdr[:])
		t.left, t.headN = t.cur.Length, 0
		if t.left == 0 {
			t.endFrame()
		}
		return n
	}
	n := len(p)
	if uint32(n) > t.left {
		n = int(t.left)
	}
	if t.headN < len(t.head) {
		t.headN += copy(t.head[t.headN:], p[:n])
	}
	t.left -= uint32(n)
	if t.left == 0 {
		t.endFrame()
	}
	return n
}

// endFrame records the end of the current frame.
func (t *Tracker) endFrame() {
	t.hn = 0
	t.frames++
	t.inBlock = startsHeaderBlock(t.cur.Type, t.cur.Flags)
	if t.OnFrame != nil {
		t.OnFrame(t.cur, t.head[:t.headN])
	}
}
