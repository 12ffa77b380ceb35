// Package handoff passes listening sockets from a running process to the
// successor it starts, for a restart that never closes a listener.
//
// The parent (Start) re-executes a binary with one end of a Unix socket
// pair as fd 3 (named by the PODWIRE_HANDOFF_FD environment variable) and
// sends, in one length-prefixed message, the listeners' keys and their
// descriptors (SCM_RIGHTS). The successor (FromEnv) receives them, takes
// the ones its configuration still uses, starts serving on them and
// reports Ready, or Fail with the reason; the parent's WaitReady returns
// that outcome, or the successor's exit status if it died first. Only
// then does the parent stop accepting. Both processes accept on the same
// sockets for a moment, so no connection attempt is refused; connections
// already queued stay in the shared backlog.
//
// Linux and other Unix systems only; elsewhere Start and FromEnv return
// ErrUnsupported.
package handoff
