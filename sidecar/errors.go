package sidecar

import (
	"errors"
	"fmt"

	"github.com/podwire/podwire/transport"
)

// Sentinel errors. Match them with errors.Is; the errors returned by this
// package wrap them with the step that failed.
var (
	// ErrInvalidConfig means a Config field is invalid; the error is a
	// *ConfigError naming the field.
	ErrInvalidConfig = errors.New("podwire/sidecar: invalid config")

	// ErrBadAllowEntry means an allow-list entry could not be parsed. It is
	// transport.ErrBadAllowEntry: the sidecar parses allow lists with
	// transport.ParseAllowList.
	ErrBadAllowEntry = transport.ErrBadAllowEntry

	// ErrSocketInUse means a live process already accepts on a socket path
	// the sidecar wants; stop it or point socket_dir elsewhere. It is
	// transport.ErrAddrInUse: the sidecar binds its sockets with
	// transport.ListenUnix.
	ErrSocketInUse = transport.ErrAddrInUse

	// ErrClosed means the Sidecar was shut down or closed.
	ErrClosed = errors.New("podwire/sidecar: sidecar closed")

	// ErrAdminUnreachable means `podwire status` could not reach the admin
	// endpoint of a sidecar.
	ErrAdminUnreachable = errors.New("podwire/sidecar: admin endpoint unreachable")
)

// ConfigError names the config field that is wrong and says what to do.
type ConfigError struct {
	Field  string // YAML path, e.g. "upstreams[0].address", or an env variable
	Reason string // what is wrong and how to fix it
}

// Error returns "podwire/sidecar: invalid config: <field>: <reason>".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidConfig, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// AllowEntryError names the allow-list entry that failed to parse; it is
// transport's type, so errors.As works with either name.
type AllowEntryError = transport.AllowEntryError

// SocketInUseError names a socket path a live process accepts on; it is
// transport's type, so errors.As works with either name.
type SocketInUseError = transport.AddrInUseError

// RefusalError is an inbound stream the sidecar refused; Reason is the
// metrics label ("bad_header", "version", "unknown_service", "forbidden",
// "app_unavailable", "draining").
type RefusalError struct {
	Reason  string
	Code    uint32
	Message string
}

// Error returns the message sent to the peer.
func (e *RefusalError) Error() string {
	return fmt.Sprintf("podwire/sidecar: refused stream (%s, code %d): %s", e.Reason, e.Code, e.Message)
}
