package boltdb

import (
	"errors"
	"fmt"
)

// ErrClosed is the cause a DB reports when used after Close and
// Options.Closed is nil.
var ErrClosed = errors.New("podwire/services: data file closed; open it again")

// StoreError says which step on a data file failed.
type StoreError struct {
	Service string // names the package in Error: "podwire/<Service>: ..."; e.g. "inventory"
	Op      string // the step, e.g. "open", "reserve"
	Path    string // the data file
	Err     error  // the cause
}

// Error says what failed and on which file:
// "podwire/<Service>: <Op> <Path>: <Err>".
func (e *StoreError) Error() string {
	return fmt.Sprintf("podwire/%s: %s %s: %v", e.Service, e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }
