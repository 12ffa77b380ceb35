package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
)

// Run is `podwire demo`: start both services, place the batch, check and
// print, stop both. It returns ErrInvariant if a check failed, and an
// ErrChild error if a service did not start or stop cleanly.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	exe := cfg.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("%w: find the podwire binary to re-run: %v", ErrChild, err)
		}
	}
	dir := cfg.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "podwire-demo-"); err != nil {
			return fmt.Errorf("podwire/demo: make a temp dir: %w", err)
		}
		if !cfg.Keep {
			defer os.RemoveAll(dir)
		}
	}
	var children []*child
	ok := false
	defer func() {
		if !ok { // a failed start or a cancelled run: stop, or kill kept ones
			abort(children, cfg.StopTimeout)
		}
	}()
	for _, svc := range []struct {
		name  string
		extra []string
	}{{"inventory", []string{"--seed"}}, {"purchase", nil}} {
		c, err := startChild(exe, dir, svc.name, cfg.Keep, svc.extra...)
		if err != nil {
			return err
		}
		children = append(children, c)
		start := time.Now()
		if err := c.waitHealthy(ctx, cfg.StartTimeout); err != nil {
			return err
		}
		cfg.Logger.Info("service healthy", "service", svc.name, "pid", c.cmd.Process.Pid, "after", time.Since(start))
	}
	s, err := batch(ctx, cfg, children[0], children[1])
	if err != nil {
		return err
	}
	s.write(cfg.Out, dir, cfg.Concurrency)
	ok = true
	if cfg.Keep {
		printKeep(cfg.Out, dir, children)
	} else {
		var errs []error
		for i := len(children) - 1; i >= 0; i-- {
			errs = append(errs, children[i].stop(cfg.StopTimeout))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		fmt.Fprintln(cfg.Out, "\n  shutdown: purchase and inventory stopped on SIGTERM, exit status 0")
	}
	if len(s.problems) > 0 {
		return ErrInvariant
	}
	return nil
}

// abort stops the children started so far, newest first; kept ones are
// killed since the run failed.
func abort(children []*child, timeout time.Duration) {
	for i := len(children) - 1; i >= 0; i-- {
		if children[i].done == nil {
			_ = children[i].cmd.Process.Kill()
		}
		_ = children[i].stop(timeout)
	}
}

// batch places the orders and checks everything afterwards.
func batch(ctx context.Context, cfg Config, inv, pur *child) (*summary, error) {
	ic := inventoryv1.NewInventoryServiceClient(inv.cc)
	pc := purchasev1.NewPurchaseServiceClient(pur.cc)
	before, err := listItems(ctx, ic)
	if err != nil {
		return nil, fmt.Errorf("podwire/demo: read the seeded stock: %w", err)
	}
	if len(before) < 2 {
		return nil, fmt.Errorf("podwire/demo: inventory has %d SKUs, the demo needs at least 2 (was it started with --seed?)", len(before))
	}
	skus := make([]string, 0, len(before))
	for sku := range before {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	jobs := plan(cfg.Orders, skus, runID, 1)
	lat := newLatency()
	start := time.Now()
	results := runBatch(ctx, pc, jobs, cfg.Concurrency, lat)
	s := &summary{orders: len(jobs), rejected: map[reason]int{}, transports: map[string]int{}, elapsed: time.Since(start)}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	accepted := s.checkResults(results)
	s.checkOrders(ctx, pc, accepted, results, "demo-"+runID+"-")
	s.checkStock(ctx, ic, before, accepted)
	s.p50, s.p99, s.latencyCalls = lat.quantile(50), lat.quantile(99), lat.count()
	return s, nil
}

// printKeep says how to reach the services left running.
func printKeep(w io.Writer, dir string, children []*child) {
	fmt.Fprintln(w, "\nservices left running (--keep):")
	pids := ""
	for _, c := range children {
		sock := filepath.Join(dir, c.name+".sock")
		fmt.Fprintf(w, "  %-9s pid %-7d socket %s  log %s\n", c.name, c.cmd.Process.Pid, sock, c.logPath)
		pids += " " + strconv.Itoa(c.cmd.Process.Pid)
		_ = c.cmd.Process.Release()
	}
	inv, pur := filepath.Join(dir, "inventory.sock"), filepath.Join(dir, "purchase.sock")
	fmt.Fprintln(w, "reach them:")
	fmt.Fprintf(w, "  grpcurl -plaintext -unix %s list\n", pur)
	fmt.Fprintf(w, "  grpcurl -plaintext -unix -d '{\"sku\":\"milk-1l\"}' %s podwire.inventory.v1.InventoryService/GetItem\n", inv)
	fmt.Fprintf(w, "  grpcurl -plaintext -unix -d '{\"idempotency_key\":\"k1\",\"customer_id\":\"me\",\"lines\":[{\"sku\":\"tea-green\",\"quantity\":1}]}' %s podwire.purchase.v1.PurchaseService/PlaceOrder\n", pur)
	fmt.Fprintf(w, "  or from Go: transport.Dial(ctx, \"purchase\", transport.WithSocketDir(%q))\n", dir)
	fmt.Fprintf(w, "stop them: kill%s && rm -r %s\n", pids, dir)
}
