package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a subcommand run by a test leaves a
// goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
