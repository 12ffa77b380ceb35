package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/podwire/podwire/services/demo"
)

// runDemo is the main job: `podwire demo [--orders N] [--concurrency C]
// [--keep]`, with PODWIRE_ORDERS, PODWIRE_CONCURRENCY and PODWIRE_KEEP as
// environment equivalents.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := demo.DefaultConfig()
	fs := flag.NewFlagSet("podwire demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Orders, "orders", cfg.Orders, "orders to place")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "orders in flight at once")
	fs.BoolVar(&cfg.Keep, "keep", false, "leave both services running and print how to reach them")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: podwire demo takes no arguments, got %q", errUsage, fs.Args())
	}
	cfg.Out = stdout
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	return demo.Run(ctx, cfg)
}
