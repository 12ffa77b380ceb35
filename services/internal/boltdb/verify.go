package boltdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"syscall"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// maxReported caps how many of bbolt's Check findings a damage report names.
const maxReported = 3

// panicError is a panic (or memory fault) of bbolt, recovered by safely.
type panicError struct{ v any }

func (p *panicError) Error() string { return fmt.Sprint(p.v) }

// safely runs f, turning a panic, and a memory fault on the mmap of a
// damaged file, into a *panicError instead of a crash.
func safely(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{v: p}
		}
	}()
	return f()
}

// inspect says whether path is a new file (missing or empty: bbolt will
// initialise it) and refuses what cannot be a data file.
func inspect(path string) (fresh bool, size int64, err error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, 0, nil
	case err != nil:
		return false, 0, err
	case fi.IsDir():
		return false, 0, &FileError{Path: path, Problem: "is a directory",
			Hint: "pass the path of a file, e.g. " + path + "/data.db", Err: syscall.EISDIR}
	case !fi.Mode().IsRegular():
		return false, 0, &FileError{Path: path, Problem: "is not a regular file (" + fi.Mode().Type().String() + ")",
			Hint: "pass the path of a regular file", Err: syscall.EINVAL}
	}
	return fi.Size() == 0, fi.Size(), nil
}

// verify opens an existing file read-only and checks it: its pages fit in
// the file, bbolt's Check finds nothing, and reading every bucket does not
// panic. It reports whether any of opts.Buckets is missing. It never
// writes.
func verify(path string, size int64, opts Options) (missing bool, err error) {
	var db *bolt.DB
	err = safely(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: opts.Timeout, OpenFile: opts.openFile})
		return err
	})
	if err != nil {
		return false, err
	}
	defer db.Close()
	var why string
	err = safely(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > size {
				why = fmt.Sprintf("it is %d bytes but its pages need %d (truncated?)", size, tx.Size())
				return nil
			}
			if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
				return err
			}
			why = check(tx)
			for _, b := range opts.Buckets {
				missing = missing || tx.Bucket(b) == nil
			}
			return nil
		})
	})
	if err != nil {
		return false, err
	}
	if why != "" {
		return false, damaged(path, why)
	}
	return missing, nil
}

// walk reads every key of b and of its nested buckets.
func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				return walk(nb)
			}
		}
		return nil
	})
}

// check runs bbolt's Check and returns its first findings, "" if none.
func check(tx *bolt.Tx) string {
	var why string
	n := 0
	for err := range tx.Check() { // drain: Check's goroutine ends when we do
		if n++; n <= maxReported {
			if why != "" {
				why += "; "
			}
			why += err.Error()
		}
	}
	if n > maxReported {
		why += fmt.Sprintf("; and %d more problems", n-maxReported)
	}
	return why
}

// openError turns a failure to open path into a *StoreError whose cause
// says what is wrong in the user's terms: the lock hint only when the lock
// timed out, a damaged file, a directory, a read-only filesystem, no
// permission.
func openError(path string, err error, opts Options) error {
	var fe *FileError
	var pe *panicError
	switch {
	case errors.As(err, &fe):
	case errors.Is(err, berrors.ErrTimeout):
		err = fmt.Errorf("%w (is another %s using this --data file?)", err, opts.Service)
	case errors.As(err, &pe):
		err = damaged(path, "bbolt panicked reading it: "+pe.Error())
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		err = damaged(path, "not a readable bbolt file ("+err.Error()+")")
	case errors.Is(err, syscall.EROFS):
		err = &FileError{Path: path, Problem: "is on a read-only filesystem", Hint: "mount it read-write or pass another --data", Err: err}
	case errors.Is(err, fs.ErrPermission):
		err = &FileError{Path: path, Problem: "cannot be opened: permission denied",
			Hint: "run the service as a user that may read and write it, or fix its owner and mode", Err: err}
	case errors.Is(err, fs.ErrNotExist):
		err = &FileError{Path: path, Problem: "cannot be created: its directory does not exist",
			Hint: "create the directory or pass another --data", Err: err}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		err = &FileError{Path: path, Problem: "cannot be created: the disk is full", Hint: "free some space and start again", Err: err}
	}
	return &StoreError{Service: opts.Service, Op: "open", Path: path, Err: err}
}
