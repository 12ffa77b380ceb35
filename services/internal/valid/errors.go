package valid

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinels matched with errors.Is; each maps to one gRPC code.
var (
	// ErrInvalid marks a malformed field (codes.InvalidArgument).
	ErrInvalid = errors.New("podwire/services: invalid argument")
	// ErrNotFound marks a reference to something that does not exist (codes.NotFound).
	ErrNotFound = errors.New("podwire/services: not found")
	// ErrExists marks a conflicting reuse of an id or key (codes.AlreadyExists).
	ErrExists = errors.New("podwire/services: already exists")
	// ErrPrecondition marks a request the current state refuses (codes.FailedPrecondition).
	ErrPrecondition = errors.New("podwire/services: failed precondition")
)

// FieldError is a request error that names the field it is about. It
// converts to a gRPC status whose message is "<field>: <reason>", so a
// handler may return it unchanged.
type FieldError struct {
	Field  string // e.g. "lines[2].quantity"
	Reason string // what is wrong and what to send instead
	Err    error  // one of the sentinels above
}

// Error returns "<field>: <reason>".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// GRPCStatus maps the sentinel to its gRPC code.
func (e *FieldError) GRPCStatus() *status.Status {
	return status.New(Code(e.Err), e.Error())
}

// Code returns the gRPC code for an error built from this package's
// sentinels, or codes.Unknown.
func Code(err error) codes.Code {
	switch {
	case errors.Is(err, ErrInvalid):
		return codes.InvalidArgument
	case errors.Is(err, ErrNotFound):
		return codes.NotFound
	case errors.Is(err, ErrExists):
		return codes.AlreadyExists
	case errors.Is(err, ErrPrecondition):
		return codes.FailedPrecondition
	}
	return codes.Unknown
}

// Invalid returns an InvalidArgument FieldError.
func Invalid(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// NotFound returns a NotFound FieldError.
func NotFound(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrNotFound}
}

// Exists returns an AlreadyExists FieldError.
func Exists(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrExists}
}

// Precondition returns a FailedPrecondition FieldError.
func Precondition(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrPrecondition}
}
