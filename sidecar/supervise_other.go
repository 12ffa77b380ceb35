//go:build !unix

package sidecar

import "log/slog"

// supervise is not needed here: there is no restart by handoff.
func supervise(*slog.Logger, int) error { return nil }
