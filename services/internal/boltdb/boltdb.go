package boltdb

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/podwire/podwire/services/internal/valid"
)

// DefaultTimeout is how long Open waits, by default, for another process
// holding the file to let go.
const DefaultTimeout = time.Second

// Options says how Open opens a data file. The zero value is usable.
type Options struct {
	// Service names the service in errors ("podwire/<Service>: ...") and in
	// the hint when the file is locked; e.g. "inventory".
	Service string
	// Buckets are created if missing when the file is opened.
	Buckets [][]byte
	// Timeout is how long Open waits for another process holding the file;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBatchDelay is how long Batch waits for other writes to join a
	// group commit; 0 keeps bbolt's default (10ms).
	MaxBatchDelay time.Duration
	// Closed is the cause a *StoreError carries when the DB is used after
	// Close; nil means ErrClosed.
	Closed error

	// openFile replaces os.OpenFile in tests (bbolt Options.OpenFile).
	openFile func(string, int, os.FileMode) (*os.File, error)
}

// DB is one open bbolt file. Safe for concurrent use; bbolt serialises
// writers.
type DB struct {
	db     *bolt.DB
	path   string
	opts   Options
	broken atomic.Pointer[FileError] // set when bbolt panicked on the file: writes refuse
}

// Open opens the bbolt file at path with mode 0600, creating it if it does
// not exist. An existing file is first opened read-only and verified
// (bbolt's Check and a read of every bucket); a file that fails is never
// opened for writing, and Open returns a *StoreError whose *FileError says
// "data file X is damaged: ...; restore from backup" (errors.Is ErrDamaged)
// and leaves the file byte for byte as it was. A healthy file is not
// written to unless one of opts.Buckets is missing. Every failure is a
// *StoreError with Op "open" or "init" (the buckets could not be made); the
// hint about another process holding the file is given only when waiting
// for its lock timed out.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Closed == nil {
		opts.Closed = ErrClosed
	}
	fresh, size, err := inspect(path)
	if err != nil {
		return nil, openError(path, err, opts)
	}
	missing := fresh
	if !fresh {
		if missing, err = verify(path, size, opts); err != nil {
			return nil, openError(path, err, opts)
		}
	}
	var db *bolt.DB
	err = safely(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, OpenFile: opts.openFile})
		return err
	})
	if err != nil {
		return nil, openError(path, err, opts)
	}
	if missing {
		if err := createBuckets(db, opts.Buckets); err != nil {
			_ = db.Close()
			return nil, &StoreError{Service: opts.Service, Op: "init", Path: path, Err: err}
		}
	}
	if opts.MaxBatchDelay > 0 {
		db.MaxBatchDelay = opts.MaxBatchDelay
	}
	return &DB{db: db, path: path, opts: opts}, nil
}

func createBuckets(db *bolt.DB, buckets [][]byte) error {
	return safely(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			for _, b := range buckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// Path returns the data file's path.
func (d *DB) Path() string { return d.path }

// Close closes the file. Safe to call twice.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return &StoreError{Service: d.opts.Service, Op: "close", Path: d.path, Err: err}
	}
	return nil
}

// View runs fn in a read-only transaction. A *valid.FieldError from fn is
// returned as is; any other failure is a *StoreError naming op, whose cause
// is Options.Closed after Close.
// A panic of bbolt (a damaged page) is returned as a damaged *FileError,
// and from then on every Update and Batch refuses to write.
func (d *DB) View(op string, fn func(*bolt.Tx) error) error {
	return d.wrap(op, d.run(func() error { return d.db.View(fn) }))
}

// Update runs fn in a read-write transaction, committed and fsynced before
// it returns; errors as View.
func (d *DB) Update(op string, fn func(*bolt.Tx) error) error {
	if fe := d.broken.Load(); fe != nil {
		return d.wrap(op, fe)
	}
	return d.wrap(op, d.run(func() error { return d.db.Update(fn) }))
}

// Batch runs fn as part of a group commit with other concurrent Batch
// calls (bbolt DB.Batch): it may run fn more than once, so fn must be
// idempotent. Errors as View.
func (d *DB) Batch(op string, fn func(*bolt.Tx) error) error {
	if fe := d.broken.Load(); fe != nil {
		return d.wrap(op, fe)
	}
	return d.wrap(op, d.run(func() error { return d.db.Batch(fn) }))
}

// run runs a transaction; a panic in it marks the file damaged.
func (d *DB) run(tx func() error) error {
	err := safely(tx)
	var pe *panicError
	if errors.As(err, &pe) {
		fe := damaged(d.path, "bbolt panicked reading it: "+pe.Error())
		d.broken.CompareAndSwap(nil, fe)
		return fe
	}
	return err
}

func (d *DB) wrap(op string, err error) error {
	var fe *valid.FieldError
	switch {
	case err == nil, errors.As(err, &fe):
		return err
	case errors.Is(err, bolt.ErrDatabaseNotOpen):
		err = d.opts.Closed
	}
	return &StoreError{Service: d.opts.Service, Op: op, Path: d.path, Err: err}
}
