package bench

import (
	"testing"
)

func TestBulkCountRoundTrip(t *testing.T) {
	for _, n := range []uint32{0, 1, 16, 1 << 31, ^uint32(0)} {
		got, err := decodeBulkCount(encodeBulkCount(n))
		if err != nil || got != n {
			t.Errorf("decodeBulkCount(encodeBulkCount(%d)) = %d, %v; want %d, nil", n, got, err, n)
		}
	}
	for _, b := range [][]byte{nil, {1}, {1, 2, 3}, {1, 2, 3, 4, 5}} {
		if _, err := decodeBulkCount(b); err == nil {
			t.Errorf("decodeBulkCount(%v) = nil error, want one naming the 4-byte count", b)
		}
	}
}

// FuzzDecodeBulkCount feeds the bulk request parser (bytes from the
// network) anything: it must never panic, must accept exactly 4 bytes, and
// must round-trip what it accepts.
func FuzzDecodeBulkCount(f *testing.F) {
	f.Add([]byte{0, 0, 0, 16})
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeBulkCount(b)
		if (err == nil) != (len(b) == 4) {
			t.Fatalf("decodeBulkCount(%x) err = %v for %d bytes", b, err, len(b))
		}
		if err == nil && string(encodeBulkCount(n)) != string(b) {
			t.Fatalf("round trip of %x gave %x", b, encodeBulkCount(n))
		}
	})
}
