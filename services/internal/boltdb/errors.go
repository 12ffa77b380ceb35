package boltdb

import (
	"errors"
	"fmt"
	"syscall"
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
// "podwire/<Service>: <Op> <Path>: <Err>", or "podwire/<Service>: <Err>"
// when Err is a *FileError (which names the file itself).
func (e *StoreError) Error() string {
	var fe *FileError
	if errors.As(e.Err, &fe) {
		return fmt.Sprintf("podwire/%s: %v", e.Service, e.Err)
	}
	return fmt.Sprintf("podwire/%s: %s %s: %v", e.Service, e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }

// ErrDamaged matches a *FileError whose file failed verification or made
// bbolt panic: the file must be restored from a backup.
var ErrDamaged = errors.New("podwire/services: data file damaged")

// FileError says why a data file cannot be used, naming the file, and what
// to do. Its message stands alone ("data file X is damaged: ...; restore
// from backup"), so a *StoreError wrapping it does not repeat the path.
type FileError struct {
	Path    string // the data file
	Problem string // e.g. "is damaged: page 3: unreachable unfreed"
	Hint    string // what to do, e.g. "restore from backup"
	Err     error  // the cause; ErrDamaged for a damaged file
}

// Error reads "data file <Path> <Problem>; <Hint>".
func (e *FileError) Error() string {
	return fmt.Sprintf("data file %s %s; %s", e.Path, e.Problem, e.Hint)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// damaged returns the *FileError for a file that failed verification.
func damaged(path string, why string) *FileError {
	return &FileError{Path: path, Problem: "is damaged: " + why,
		Hint: "restore from backup (podwire does not write to a damaged file)", Err: ErrDamaged}
}

// Kind sorts store failures by what a caller can do about them.
type Kind int

// Kinds of store failures, from Classify.
const (
	KindOther   Kind = iota // anything else: a bug or an unforeseen state
	KindClosed              // the store was closed (the service is stopping)
	KindNoSpace             // the disk (or quota) is full: retry after space is freed
	KindIO                  // the disk failed a read or write: retry later
	KindDamaged             // the file is damaged: restore from backup
)

// Classify says which Kind err is. Services use it to answer callers in
// their own words (no paths, no Go error text). closed is the service's
// Options.Closed sentinel.
func Classify(err error, closed error) Kind {
	switch {
	case errors.Is(err, closed), errors.Is(err, ErrClosed):
		return KindClosed
	case errors.Is(err, ErrDamaged):
		return KindDamaged
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return KindNoSpace
	case errors.Is(err, syscall.EIO), errors.Is(err, syscall.EROFS):
		return KindIO
	}
	return KindOther
}
