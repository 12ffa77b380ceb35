// Package damagetest damages bbolt data files the ways a disk or an
// operator can, for tests: truncation, random bytes over a page, bytes
// inside one record, and a hash to prove a file was left unchanged.
package damagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"testing"
)

// bbolt page layout: a 16-byte header (id u64, flags u16, count u16,
// overflow u32); the meta page stores the page size after magic and
// version.
const (
	pageHeader     = 16
	metaPageSize   = pageHeader + 8
	flagBranchPage = 0x01
	flagLeafPage   = 0x02
)

// Hash returns the SHA-256 of the file at path.
func Hash(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Truncate cuts the file at path to n bytes; it must be longer.
func Truncate(tb testing.TB, path string, n int64) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= n {
		tb.Fatalf("truncate %s to %d: size %v, err %v; write more records first", path, n, fi.Size(), err)
	}
	if err := os.Truncate(path, n); err != nil {
		tb.Fatalf("truncate %s: %v", path, err)
	}
}

// SmashPage writes 64 random bytes (fixed seed) over the header and
// element table of every leaf or branch page after the meta pages, as a
// bad sector or a stray write would. Every such page, not the first one:
// the first may be a freed page left from an earlier transaction (which
// pages are free depends on the writes' timing), and damage there is
// rightly not seen (TestDamagedFiles failed that way once under -race).
func SmashPage(tb testing.TB, path string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	ps := int(binary.LittleEndian.Uint32(b[metaPageSize:]))
	if ps < 512 || ps > 1<<16 {
		tb.Fatalf("%s: page size %d read from the meta page; not a bbolt file?", path, ps)
	}
	r := rand.New(rand.NewPCG(1, 2))
	smashed := 0
	for off := 2 * ps; off+ps <= len(b); off += ps {
		flags := binary.LittleEndian.Uint16(b[off+8:])
		if flags&(flagLeafPage|flagBranchPage) == 0 {
			continue
		}
		junk := make([]byte, 64)
		for i := range junk {
			junk[i] = byte(r.Uint32())
		}
		writeAt(tb, path, junk, int64(off))
		smashed++
	}
	if smashed == 0 {
		tb.Fatalf("%s: no leaf or branch page found", path)
	}
}

// SmashRecord overwrites every occurrence of marker in the file (live
// pages and stale copies alike) with 0xff bytes, which are not valid
// UTF-8 in a protobuf string: the record holding marker (e.g. an item's
// name) no longer decodes while the file's structure stays valid.
func SmashRecord(tb testing.TB, path string, marker string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	n := bytes.Count(b, []byte(marker))
	if n == 0 {
		tb.Fatalf("%s: marker %q not found", path, marker)
	}
	writeFile(tb, path, bytes.ReplaceAll(b, []byte(marker), bytes.Repeat([]byte{0xff}, len(marker))))
}

func writeAt(tb testing.TB, path string, p []byte, off int64) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, off); err != nil {
		tb.Fatalf("write %s: %v", path, err)
	}
}

func writeFile(tb testing.TB, path string, b []byte) {
	tb.Helper()
	writeAt(tb, path, b, 0)
}
