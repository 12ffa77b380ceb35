package purchase

import (
	"errors"

	"github.com/podwire/podwire/services/internal/boltdb"
)

// Sentinels of this package.
var (
	// ErrClosed is returned by a Store used after Close.
	ErrClosed = errors.New("podwire/purchase: closed; open a new store")
	// ErrCorrupt is returned when a stored order cannot be decoded.
	ErrCorrupt = errors.New("podwire/purchase: corrupt record in data file; restore it from a backup or start with a new --data file")
)

// StoreError says which step on the data file failed: Service
// ("purchase"), Op (the step, e.g. "open", "set order state"), Path (the
// data file) and Err (the cause; ErrClosed after Close). Error reads
// "podwire/purchase: <Op> <Path>: <Err>" and Unwrap returns Err. It is the
// type inventory.StoreError names too; Service tells them apart.
type StoreError = boltdb.StoreError
