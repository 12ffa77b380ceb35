package transport

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Sentinel errors. Typed errors below wrap them so callers can use errors.Is.
var (
	// ErrUnknownService means a bare service name matched neither a live
	// socket nor a configured peer address.
	ErrUnknownService = errors.New("podwire/transport: unknown service")
	// ErrPathTooLong means a Unix socket path exceeds the platform limit.
	ErrPathTooLong = errors.New("podwire/transport: socket path too long")
	// ErrAddrInUse means a live server already accepts on the socket path.
	ErrAddrInUse = errors.New("podwire/transport: address in use by a running server")
	// ErrTLSConfigMissing means a TLS path was requested without certificates.
	ErrTLSConfigMissing = errors.New("podwire/transport: TLS configuration missing")
	// ErrInsecureNotAllowed means a plaintext TCP target was refused.
	ErrInsecureNotAllowed = errors.New("podwire/transport: plaintext TCP refused")
	// ErrBadTarget means a dial target could not be parsed.
	ErrBadTarget = errors.New("podwire/transport: bad target")
	// ErrBadAllowEntry means an allow-list entry could not be parsed.
	ErrBadAllowEntry = errors.New("podwire/transport: bad allow-list entry")
	// ErrBadConfig means a ListenConfig or Config field is invalid.
	ErrBadConfig = errors.New("podwire/transport: bad configuration")
	// ErrTooManyHandshakes means a TLSListener closed a new connection
	// because Config.MaxPendingHandshakes handshakes were in progress; if
	// legitimate clients hit it, raise MaxPendingHandshakes.
	ErrTooManyHandshakes = errors.New("podwire/transport: too many TLS handshakes in progress (raise Config.MaxPendingHandshakes if legitimate clients are refused)")
	// ErrListenerClosed is returned by Accept after Close; it wraps
	// net.ErrClosed so servers treat it as a normal stop.
	ErrListenerClosed = fmt.Errorf("podwire/transport: listener closed: %w", net.ErrClosed)
)

// UnknownServiceError says which places were tried for a bare service name.
type UnknownServiceError struct {
	Service    string // the bare name
	SocketPath string // the socket that was probed
	SocketErr  error  // why the socket was not usable
	EnvVar     string // the peer-address environment variable that was read
}

// Error says what was tried and what to do.
func (e *UnknownServiceError) Error() string {
	return fmt.Sprintf("podwire/transport: unknown service %q: no live socket at %s (%v) and no peer address "+
		"(set %s=host:port or use WithPeerAddr, set PODWIRE_PEER_TEMPLATE={service}.<domain>:<port> "+
		"or use WithPeerTemplate to find peers by DNS, or start the service on this host)",
		e.Service, e.SocketPath, e.SocketErr, e.EnvVar)
}

// Unwrap returns ErrUnknownService.
func (e *UnknownServiceError) Unwrap() error { return ErrUnknownService }

// PathTooLongError names a socket path over the platform's limit.
type PathTooLongError struct {
	Path  string
	Limit int // bytes, including the terminating NUL (108 on Linux)
}

// Error names the path, its length and the limit.
func (e *PathTooLongError) Error() string {
	return fmt.Sprintf("podwire/transport: socket path %q is %d bytes, over the %d-byte limit for Unix socket paths "+
		"(use a shorter socket dir, e.g. PODWIRE_SOCKET_DIR=/run/podwire)", e.Path, len(e.Path), e.Limit)
}

// Unwrap returns ErrPathTooLong.
func (e *PathTooLongError) Unwrap() error { return ErrPathTooLong }

// AddrInUseError names a socket path a running server already accepts on.
type AddrInUseError struct{ Path string }

// Error says the socket is live and what to do.
func (e *AddrInUseError) Error() string {
	return fmt.Sprintf("podwire/transport: %s: address in use by a running server "+
		"(stop the other server or pick another service name or socket dir)", e.Path)
}

// Unwrap returns ErrAddrInUse.
func (e *AddrInUseError) Unwrap() error { return ErrAddrInUse }

// InsecureTargetError refuses a plaintext TCP target.
type InsecureTargetError struct {
	Target string
	Reason string // "not loopback" or "WithInsecureLoopback not set"
}

// Error says why the target was refused and what to do.
func (e *InsecureTargetError) Error() string {
	return fmt.Sprintf("podwire/transport: plaintext target %q refused: %s "+
		"(use tls://host:port, or for a loopback address pass WithInsecureLoopback)", e.Target, e.Reason)
}

// Unwrap returns ErrInsecureNotAllowed.
func (e *InsecureTargetError) Unwrap() error { return ErrInsecureNotAllowed }

// TLSConfigError says which TLS setting is missing or broken.
type TLSConfigError struct {
	What string // e.g. "client certificate for tls://db:443"
	Err  error  // underlying cause, may be nil
}

// Error says what is missing and how to provide it.
func (e *TLSConfigError) Error() string {
	msg := "podwire/transport: TLS configuration missing: " + e.What +
		" (pass WithTLSFiles/WithTLSConfig, or CertFile/KeyFile/CAFile in ListenConfig; `podwire certs` makes dev certs)"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrTLSConfigMissing and the cause.
func (e *TLSConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrTLSConfigMissing}
	}
	return []error{ErrTLSConfigMissing, e.Err}
}

// TargetError says why a dial target could not be parsed.
type TargetError struct {
	Target string
	Reason string
}

// Error names the target and the accepted forms.
func (e *TargetError) Error() string {
	return fmt.Sprintf("podwire/transport: bad target %q: %s (want unix:///abs.sock, unix-abstract:name, "+
		"tls://host:port, tcp://127.0.0.1:port, or a service name like inventory)", e.Target, e.Reason)
}

// Unwrap returns ErrBadTarget.
func (e *TargetError) Unwrap() error { return ErrBadTarget }

// AllowEntryError names the allow-list entry that failed to parse.
type AllowEntryError struct {
	Entry  string
	Reason string
}

// Error names the entry and the accepted forms.
func (e *AllowEntryError) Error() string {
	return fmt.Sprintf("podwire/transport: bad allow-list entry %q: %s (want uid:N, gid:N, spiffe://domain/path, dns:name or dns:*.domain)",
		e.Entry, e.Reason)
}

// Unwrap returns ErrBadAllowEntry.
func (e *AllowEntryError) Unwrap() error { return ErrBadAllowEntry }

// configError builds an ErrBadConfig error naming the field.
func configError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadConfig, field, fmt.Sprintf(format, args...))
}

// envName returns the PODWIRE_PEER_<NAME> variable for a service.
func envName(service string) string {
	return "PODWIRE_PEER_" + strings.ReplaceAll(strings.ToUpper(service), "-", "_")
}
