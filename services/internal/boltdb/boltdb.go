package boltdb

import (
	"errors"
	"fmt"
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
}

// DB is one open bbolt file. Safe for concurrent use; bbolt serialises
// writers.
type DB struct {
	db   *bolt.DB
	path string
	opts Options
}

// Open opens (creating if needed) the bbolt file at path with mode 0600 and
// creates opts.Buckets. Every failure is a *StoreError with Op "open" (the
// file is locked or unreadable) or "init" (the buckets could not be made).
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Closed == nil {
		opts.Closed = ErrClosed
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if err != nil {
		return nil, &StoreError{Service: opts.Service, Op: "open", Path: path,
			Err: fmt.Errorf("%w (is another %s using this --data file?)", err, opts.Service)}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range opts.Buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, &StoreError{Service: opts.Service, Op: "init", Path: path, Err: err}
	}
	if opts.MaxBatchDelay > 0 {
		db.MaxBatchDelay = opts.MaxBatchDelay
	}
	return &DB{db: db, path: path, opts: opts}, nil
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
func (d *DB) View(op string, fn func(*bolt.Tx) error) error {
	return d.wrap(op, d.db.View(fn))
}

// Update runs fn in a read-write transaction, committed and fsynced before
// it returns; errors as View.
func (d *DB) Update(op string, fn func(*bolt.Tx) error) error {
	return d.wrap(op, d.db.Update(fn))
}

// Batch runs fn as part of a group commit with other concurrent Batch
// calls (bbolt DB.Batch): it may run fn more than once, so fn must be
// idempotent. Errors as View.
func (d *DB) Batch(op string, fn func(*bolt.Tx) error) error {
	return d.wrap(op, d.db.Batch(fn))
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
