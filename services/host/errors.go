package host

import "errors"

// Sentinels of this package.
var (
	// ErrConfig marks an invalid Config; the message names the field.
	ErrConfig = errors.New("podwire/host: bad configuration")
)
