package main

import (
	"context"
	"io"

	"github.com/podwire/podwire/services/demo"
)

// runDemo is the main job: podwire demo [--orders N] [--concurrency C] [--keep].
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := demo.DefaultConfig()
	f := newFlags("demo", "podwire demo [--orders N] [--concurrency C] [--keep] [-v]", `
Starts inventory and purchase as two `+"`podwire serve`"+` processes in a temp dir
(each given --socket-dir, --data, --log-format and --log-level explicitly),
places a batch of orders through purchase, checks stock and order
invariants, prints a table and stops both. --keep leaves them running.`, stdout, stderr)
	f.IntVar(&cfg.Orders, "orders", cfg.Orders, "orders to place, 1 to 1000000")
	f.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "orders in flight at once, 1 to 1024")
	f.BoolVar(&cfg.Keep, "keep", false, "leave both services running and print how to reach them")
	verbose := f.Bool("v", false, "log progress to stderr (format and level from --log-format, --log-level)")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return asUsage(err, demo.ErrConfig)
	}
	cfg.Out = stdout
	if *verbose {
		cfg.Logger = f.log
	}
	return demo.Run(ctx, cfg)
}
