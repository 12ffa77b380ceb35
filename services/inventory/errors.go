package inventory

import (
	"errors"
	"fmt"
)

// Sentinels of this package.
var (
	// ErrClosed is returned by a Store or Server used after Close.
	ErrClosed = errors.New("podwire/inventory: closed; open a new store or server")
	// ErrCorrupt is returned when a stored record cannot be decoded.
	ErrCorrupt = errors.New("podwire/inventory: corrupt record in data file; restore it from a backup or start with a new --data file")
)

// StoreError says which step on the data file failed.
type StoreError struct {
	Op   string // e.g. "open", "reserve"
	Path string
	Err  error
}

// Error says what failed and on which file.
func (e *StoreError) Error() string {
	return fmt.Sprintf("podwire/inventory: %s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }

func errorsIsClosed(err error) bool { return errors.Is(err, ErrClosed) }
