package inventory

import (
	"errors"

	"github.com/podwire/podwire/services/internal/boltdb"
)

// Sentinels of this package.
var (
	// ErrClosed is returned by a Store or Server used after Close.
	ErrClosed = errors.New("podwire/inventory: closed; open a new store or server")
	// ErrCorrupt is returned when a stored record cannot be decoded.
	ErrCorrupt = errors.New("podwire/inventory: corrupt record in data file; restore it from a backup or start with a new --data file")
)

// StoreError says which step on the data file failed: Service
// ("inventory"), Op (the step, e.g. "open", "reserve"), Path (the data
// file) and Err (the cause; ErrClosed after Close). Error reads
// "podwire/inventory: <Op> <Path>: <Err>" and Unwrap returns Err. It is
// the type purchase.StoreError names too; Service tells them apart.
type StoreError = boltdb.StoreError
