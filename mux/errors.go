package mux

import (
	"errors"
	"fmt"
	"net"
	"os"

	"google.golang.org/genproto/googleapis/rpc/code"
)

// Sentinel errors. Match them with errors.Is; the errors returned by this
// package wrap them with the step that failed.
var (
	// ErrSessionClosed means the session carrying a stream (or asked to open
	// one) is closed or dead. It is retryable: open a new stream, on a new
	// session if needed (a Pool redials by itself). Errors that match it also
	// match net.ErrClosed.
	ErrSessionClosed = errors.New("podwire/mux: session closed; retry on a new stream (a Pool redials automatically)")

	// ErrStreamReset means the peer reset the stream: it was refused before
	// the header exchange (backlog full, peer going away) or the peer
	// dropped it. Retry on a new stream.
	ErrStreamReset = errors.New("podwire/mux: stream reset by peer; retry on a new stream")

	// ErrKeepAliveTimeout means no pong or other traffic arrived within
	// Config.KeepAliveTimeout of a ping, so the session was declared dead.
	// Check the network path to the peer; the Pool redials.
	ErrKeepAliveTimeout = errors.New("podwire/mux: keepalive timeout: peer did not answer a ping in time; check the network path")

	// ErrDraining means the session is shutting down (Shutdown was called
	// or the peer sent GoAway) and takes no new streams. Retry on another
	// session; a Pool does this by itself.
	ErrDraining = errors.New("podwire/mux: session is draining and opens no new streams; retry on another session")

	// ErrPingFlood means the peer sent more pings than
	// Config.MaxPingsPerSecond, so this side closed the session. The peer
	// is broken or hostile; it is not retryable on this session.
	ErrPingFlood = errors.New("podwire/mux: peer sent pings faster than MaxPingsPerSecond; session closed")

	// ErrRefusalFlood means this side refused more of the peer's streams
	// than Config.MaxRefusalsPerSecond, so it closed the session. Check
	// the peer's service names, identity and stream limits.
	ErrRefusalFlood = errors.New("podwire/mux: peer earned more stream refusals than MaxRefusalsPerSecond; session closed")

	// ErrInvalidConfig means a Config or PoolConfig field is out of range;
	// the message names the field. Start from DefaultConfig.
	ErrInvalidConfig = errors.New("podwire/mux: invalid config")

	// ErrInvalidHeader means a podwire.wire.v1 header or reply is malformed
	// or breaks a limit. The error is a *HeaderError naming the field.
	ErrInvalidHeader = errors.New("podwire/mux: invalid stream header")

	// ErrHeaderTooLarge means a length prefix exceeds MaxHeaderSize; the body
	// was not read. The peer does not speak podwire-mux/1 correctly.
	ErrHeaderTooLarge = errors.New("podwire/mux: stream header larger than 4096 bytes; the peer does not speak podwire-mux/1")

	// ErrHeaderTimeout means the header or reply did not arrive within the
	// deadline. The peer may not speak podwire-mux/1, or is overloaded.
	ErrHeaderTimeout = errors.New("podwire/mux: stream header not received in time; check that the peer speaks podwire-mux/1")

	// ErrInvalidServiceName means a service name breaks the rule of
	// ValidateServiceName; the error is a *ServiceNameError saying how.
	ErrInvalidServiceName = errors.New("podwire/mux: invalid service name")

	// ErrPoolClosed means the Pool was shut down or closed; make a new Pool.
	ErrPoolClosed = errors.New("podwire/mux: pool closed; create a new Pool")
)

// closedError is returned by streams and sessions once the session is gone.
// It matches both ErrSessionClosed and net.ErrClosed, so net/http and gRPC
// treat it as a closed listener or connection.
type closedError struct{ cause error }

func (e *closedError) Error() string {
	if e.cause == nil || errors.Is(e.cause, ErrSessionClosed) {
		return ErrSessionClosed.Error()
	}
	return ErrSessionClosed.Error() + ": " + e.cause.Error()
}

// Is reports whether target is ErrSessionClosed or net.ErrClosed.
func (e *closedError) Is(target error) bool {
	return target == ErrSessionClosed || target == net.ErrClosed
}

// Unwrap returns the reason the session died, if known.
func (e *closedError) Unwrap() error { return e.cause }

// Temporary reports false: the session will not recover. (Accept loops
// such as grpc.Server.Serve retry Temporary errors forever; a new stream on
// a new session may still succeed, which ErrSessionClosed says.)
func (e *closedError) Temporary() bool { return false }

// Timeout reports false.
func (e *closedError) Timeout() bool { return false }

// timeoutError is a deadline error that implements net.Error and matches
// os.ErrDeadlineExceeded.
type timeoutError struct{}

func (timeoutError) Error() string   { return "podwire/mux: i/o deadline exceeded" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded
}

// HeaderError is a malformed or out-of-limit podwire.wire.v1 header or
// reply. Code is the gRPC status code an acceptor should refuse with.
type HeaderError struct {
	Field  string // the offending field, e.g. "service"
	Reason string // what is wrong with it
	Code   uint32 // reply code for Refuse: 3 INVALID_ARGUMENT or 9 FAILED_PRECONDITION
	err    error  // the cause, if another error (e.g. a *ServiceNameError)
}

// Error says which field is wrong and how to fix it.
func (e *HeaderError) Error() string {
	return fmt.Sprintf("podwire/mux: invalid stream header: %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalidHeader and the cause, if any (for a bad service
// name, a *ServiceNameError matching ErrInvalidServiceName).
func (e *HeaderError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrInvalidHeader}
	}
	return []error{ErrInvalidHeader, e.err}
}

// RefusedError is the peer's refusal of a stream: the non-zero code and
// message of its podwire.wire.v1 StreamReply.
type RefusedError struct {
	Code    uint32 // gRPC status code (google.rpc.Code)
	Message string // the peer's reason, at most 512 bytes
}

// Error says the code, the peer's message and what to do about it.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("podwire/mux: peer refused stream: %s (code %d): %q; %s",
		codeName(e.Code), e.Code, e.Message, refusalHint(e.Code))
}

// Temporary reports whether retrying later may succeed (RESOURCE_EXHAUSTED,
// UNAVAILABLE, ABORTED).
func (e *RefusedError) Temporary() bool {
	switch e.Code {
	case codeResourceExhausted, codeUnavailable, codeAborted:
		return true
	}
	return false
}

// gRPC status codes used on the wire, from google.rpc.Code (genproto's
// googleapis/rpc/code; mux never imports grpc). Wire fields are uint32.
const (
	codeOK                 = uint32(code.Code_OK)
	codeInvalidArgument    = uint32(code.Code_INVALID_ARGUMENT)
	codeNotFound           = uint32(code.Code_NOT_FOUND)
	codePermissionDenied   = uint32(code.Code_PERMISSION_DENIED)
	codeResourceExhausted  = uint32(code.Code_RESOURCE_EXHAUSTED)
	codeFailedPrecondition = uint32(code.Code_FAILED_PRECONDITION)
	codeAborted            = uint32(code.Code_ABORTED)
	codeUnimplemented      = uint32(code.Code_UNIMPLEMENTED)
	codeUnavailable        = uint32(code.Code_UNAVAILABLE)
	codeUnauthenticated    = uint32(code.Code_UNAUTHENTICATED)
)

// codeName returns the google.rpc.Code name of c, e.g. "NOT_FOUND".
func codeName(c uint32) string {
	if n, ok := code.Code_name[int32(c)]; ok && c <= 1<<31-1 {
		return n
	}
	return "UNKNOWN_CODE"
}

func refusalHint(c uint32) string {
	switch c {
	case codeNotFound:
		return "check the service name and that the peer serves it"
	case codePermissionDenied, codeUnauthenticated:
		return "check this client's identity against the peer's allow-list"
	case codeResourceExhausted:
		return "the peer is at its stream limit; retry later or raise its MaxInboundStreams"
	case codeFailedPrecondition:
		return "the peer speaks another header version; upgrade one side"
	case codeInvalidArgument:
		return "fix the stream header (service name, metadata limits)"
	case codeUnavailable, codeAborted:
		return "retry, on another session if possible"
	}
	return "see the peer's logs"
}
