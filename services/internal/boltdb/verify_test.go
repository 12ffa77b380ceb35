package boltdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/podwire/podwire/services/internal/damagetest"
)

// fill writes n records into bucketA of db.
func fill(tb testing.TB, db *DB, n int) {
	tb.Helper()
	err := db.Update("fill", func(tx *bolt.Tx) error {
		for i := range n {
			if err := tx.Bucket(bucketA).Put(fmt.Appendf(nil, "k%05d", i), []byte("a value of some length")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// TestOpenOnlyWritesWhenBucketsAreMissing: reopening a healthy file leaves
// its bytes alone; a file without one of the buckets gets it created.
func TestOpenOnlyWritesWhenBucketsAreMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path, Options{Buckets: [][]byte{bucketA}})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db, 100)
	_ = db.Close()
	before := damagetest.Hash(t, path)
	for range 2 {
		db, err := Open(path, Options{Buckets: [][]byte{bucketA}})
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
	}
	if after := damagetest.Hash(t, path); after != before {
		t.Errorf("reopening a healthy file changed it: sha256 %s -> %s", before, after)
	}
	db, err = Open(path, Options{Buckets: [][]byte{bucketA, []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View("b", func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("b")) == nil {
			return errors.New("bucket b missing")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if damagetest.Hash(t, path) == before {
		t.Error("a missing bucket was not written")
	}
}

// TestOpenErrorWords: each cause of a failed open gets its own words, and
// only the lock timeout mentions another process.
func TestOpenErrorWords(t *testing.T) {
	denied := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
		}
		return os.OpenFile(name, flag, perm)
	}
	rofs := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EROFS}
		}
		return os.OpenFile(name, flag, perm)
	}
	tests := []struct {
		name     string
		openFile func(string, int, os.FileMode) (*os.File, error)
		path     func(dir, healthy string) string
		want     string
	}{
		{"permission denied", denied, func(_, h string) string { return h }, "cannot be opened: permission denied; run the service as a user"},
		{"read-only filesystem", rofs, func(_, h string) string { return h }, "is on a read-only filesystem; mount it read-write"},
		{"missing directory", nil, func(d, _ string) string { return filepath.Join(d, "nope", "t.db") }, "its directory does not exist"},
		{"directory", nil, func(d, _ string) string { return d }, "is a directory"},
		{"not a bbolt file", nil, func(d, _ string) string {
			p := filepath.Join(d, "junk.db")
			if err := os.WriteFile(p, make([]byte, 1<<16), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is damaged: not a readable bbolt file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			healthy := filepath.Join(dir, "t.db")
			db, err := Open(healthy, Options{Buckets: [][]byte{bucketA}})
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
			_, err = Open(tt.path(dir, healthy), Options{Service: "svc", Buckets: [][]byte{bucketA}, openFile: tt.openFile})
			var se *StoreError
			if !errors.As(err, &se) || se.Op != "open" {
				t.Fatalf("got %v, want a *StoreError with Op open", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "is another") {
				t.Errorf("Error() = %q, want it to contain %q and not blame another process", msg, tt.want)
			}
		})
	}
}

// TestDamageFoundAfterOpen: a page damaged while the file is open makes
// bbolt panic on a read; the panic becomes a damaged error, and from then
// on writes refuse, leaving the file unchanged.
func TestDamageFoundAfterOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path, Options{Service: "svc", Buckets: [][]byte{bucketA}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fill(t, db, 2000)
	damagetest.SmashPage(t, path)
	before := damagetest.Hash(t, path)
	err = db.View("list", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketA).ForEach(func(_, _ []byte) error { return nil })
	})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "restore from backup") {
		t.Fatalf("View over a damaged page = %v, want a damaged error", err)
	}
	t.Logf("View: %v", err)
	for _, write := range []func(string, func(*bolt.Tx) error) error{db.Update, db.Batch} {
		err := write("put", func(tx *bolt.Tx) error { return tx.Bucket(bucketA).Put([]byte("new"), []byte("v")) })
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("write after damage = %v, want refused as damaged", err)
		}
	}
	if after := damagetest.Hash(t, path); after != before {
		t.Errorf("file changed after damage was found: sha256 %s -> %s", before, after)
	}
}
