package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// runDemo is the main job. The sample services land with issue 5; until
// then it says what is coming and fails, as the foundation issue asks.
func runDemo(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "podwire demo is coming: it will start the inventory and purchase sample services")
	fmt.Fprintln(stdout, "on Unix sockets in a temp dir, place a batch of orders, and print what happened.")
	return errors.New("not available in this build yet (tracked as issue 5, sample services)")
}
