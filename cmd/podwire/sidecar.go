package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/podwire/podwire/sidecar"
)

// runSidecar runs the pod sidecar: podwire sidecar --config FILE.
// PODWIRE_* environment variables override the file (see sidecar.Config).
func runSidecar(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("podwire sidecar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "sidecar YAML config; keys are documented in deploy/k8s/sidecar.yaml (env PODWIRE_CONFIG)")
	level := fs.String("log-level", "info", "debug, info, warn or error (env PODWIRE_LOG_LEVEL)")
	format := fs.String("log-format", "json", "json or text (env PODWIRE_LOG_FORMAT)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg, err := sidecar.LoadConfig(*path, nil)
	if err != nil {
		return err
	}
	return sidecar.Run(ctx, cfg, sidecar.WithLogger(log))
}

// newLogger builds the sidecar's slog logger.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use json or text", format)
}
