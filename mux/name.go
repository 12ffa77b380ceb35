package mux

import (
	"fmt"
)

// MaxServiceNameLen is the longest service name ValidateServiceName
// accepts: one DNS label.
const MaxServiceNameLen = 63

// ServiceNameError says why a service name was rejected. It matches
// ErrInvalidServiceName.
type ServiceNameError struct {
	Name   string // the rejected name, as given
	Reason string // which part of the rule it breaks
}

// Error names the rule and the part of it the name breaks.
func (e *ServiceNameError) Error() string {
	return fmt.Sprintf("service name %q: must be 1–63 lowercase letters, digits or '-', "+
		"starting with a letter and not ending with '-' (a DNS label, e.g. \"inventory\"): %s",
		truncate(e.Name, 80), e.Reason)
}

// Unwrap returns ErrInvalidServiceName.
func (e *ServiceNameError) Unwrap() error { return ErrInvalidServiceName }

// ValidateServiceName is podwire's one rule for service names, used by
// transport.Dial and Listen, the certificates of transport/certs (DNS SAN
// and SPIFFE path), the podwire.wire.v1 header and the sidecar config. A
// name is a DNS label as RFC 1035 and Kubernetes Service names (DNS-1035
// labels) define it: 1 to 63 bytes of lower-case letters a-z, digits and
// '-', starting with a letter and ending with a letter or digit. No dots
// (a name is one label, it becomes one path segment and one file name
// <name>.sock) and no upper case (names are compared byte for byte; DNS
// would fold case, a file system would not).
//
// This is the strictest of the copies podwire had before: all of them
// demanded a leading letter, and only some refused a trailing '-'. The
// error is a *ServiceNameError.
func ValidateServiceName(name string) error {
	bad := func(reason string) error { return &ServiceNameError{Name: name, Reason: reason} }
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > MaxServiceNameLen:
		return bad(fmt.Sprintf("it is %d bytes long", len(name)))
	case name[0] < 'a' || name[0] > 'z':
		return bad(fmt.Sprintf("it starts with %q", name[0]))
	case name[len(name)-1] == '-':
		return bad("it ends with '-'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return bad(fmt.Sprintf("it contains %q at byte %d", c, i))
		}
	}
	return nil
}
