package purchase

import (
	"errors"
	"fmt"
)

// Sentinels of this package.
var (
	// ErrClosed is returned by a Store used after Close.
	ErrClosed = errors.New("podwire/purchase: closed; open a new store")
	// ErrCorrupt is returned when a stored order cannot be decoded.
	ErrCorrupt = errors.New("podwire/purchase: corrupt record in data file; restore it from a backup or start with a new --data file")
)

// StoreError says which step on the data file failed.
type StoreError struct {
	Op   string // e.g. "open", "confirm"
	Path string
	Err  error
}

// Error says what failed and on which file.
func (e *StoreError) Error() string {
	return fmt.Sprintf("podwire/purchase: %s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }
