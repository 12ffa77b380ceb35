package demo

import "errors"

// Sentinels of this package.
var (
	// ErrInvariant means the batch ran but a check failed; the printed
	// table says which.
	ErrInvariant = errors.New("podwire/demo: an invariant failed (see the table above)")
	// ErrConfig marks an invalid Config; the message names the field.
	ErrConfig = errors.New("podwire/demo: bad configuration")
	// ErrChild means a service process failed to start, answer or stop;
	// the message points at its log file.
	ErrChild = errors.New("podwire/demo: service process failed")
)
