package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
)

// planned counts the orders of each kind in a batch of n, and its calls.
func planned(n int) (map[kind]int, int) {
	per, calls := map[kind]int{}, 0
	for i := range n {
		k := kindOf(i)
		per[k]++
		calls += job{kind: k}.calls()
	}
	return per, calls
}

// TestDemoCommand runs `podwire demo --orders 60` as a user would and
// checks every summary line, the exit status, and that the temp dir is gone.
func TestDemoCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, podwireBin, "demo", "--orders", "60")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("podwire demo: %v\n%s", err, out.String())
	}
	per, calls := planned(60)
	placed, retried := per[kindValid]+per[kindRetried], per[kindRetried]
	rejected := per[kindZeroQty] + per[kindUnknownSKU] + per[kindNoCustomer] + per[kindTooMany]
	want := []string{
		fmt.Sprintf(`orders placed +%d confirmed, one reservation each`, placed),
		fmt.Sprintf(`orders rejected +%d \(%d as planned\)`, rejected, rejected),
		fmt.Sprintf(`FailedPrecondition lines\[0\]\.quantity +%d\n`, per[kindTooMany]),
		fmt.Sprintf(`InvalidArgument customer_id +%d\n`, per[kindNoCustomer]),
		fmt.Sprintf(`InvalidArgument lines\[0\]\.quantity +%d\n`, per[kindZeroQty]),
		fmt.Sprintf(`NotFound lines\[1\]\.sku +%d\n`, per[kindUnknownSKU]),
		fmt.Sprintf(`retried without duplicates +%d of %d `, retried, retried),
		fmt.Sprintf(`purchase → inventory +unix \(%d of %d orders\)\n`, placed, placed),
		fmt.Sprintf(`PlaceOrder latency +p50 \d+\.\d\dms  p99 \d+\.\d\dms  \(%d calls in `, calls),
		`invariants +PASS\n`,
		`shutdown: purchase and inventory stopped on SIGTERM, exit status 0`,
	}
	for _, re := range want {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("summary lacks a line matching %q:\n%s", re, out.String())
		}
	}
	m := regexp.MustCompile(`Unix sockets in (\S+)\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no socket dir in:\n%s", out.String())
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s left behind (%v)", m[1], err)
	}
}

// TestRunInProcess runs the demo through the package API with the built
// binary injected, in a test-owned dir, and checks it passes and leaves
// the logs of both services there.
func TestRunInProcess(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Orders, cfg.Concurrency, cfg.Executable, cfg.Dir, cfg.Out = 40, 4, podwireBin, dir, &out
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, f := range []string{"inventory.log", "purchase.log", "inventory.db", "purchase.db"} {
		if _, err := os.Stat(dir + "/" + f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "invariants") || !strings.Contains(out.String(), "PASS") {
		t.Errorf("no PASS in:\n%s", out.String())
	}
}

// TestRunBadExecutable checks that a binary that cannot start fails fast
// with ErrChild.
func TestRunBadExecutable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Executable, cfg.Dir = "/nonexistent/podwire", t.TempDir()
	if err := Run(t.Context(), cfg); !errors.Is(err, ErrChild) {
		t.Errorf("Run = %v, want ErrChild", err)
	}
}

// TestConfigValidate checks the range of every field.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr bool
	}{
		{"default", func(*Config) {}, false},
		{"zero orders", func(c *Config) { c.Orders = 0 }, true},
		{"zero concurrency", func(c *Config) { c.Concurrency = 0 }, true},
		{"huge concurrency", func(c *Config) { c.Concurrency = 5000 }, true},
		{"no start timeout", func(c *Config) { c.StartTimeout = 0 }, true},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.mod(&c)
		if err := c.Validate(); (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%s: Validate() = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}

// TestCheckResultsFindsDuplicates feeds checkResults replies that break
// the invariants and expects each to be reported.
func TestCheckResultsFindsDuplicates(t *testing.T) {
	o := func(id string) *purchasev1.Order { return &purchasev1.Order{OrderId: id} }
	bad := status.Error(codes.InvalidArgument, "customer_id: required")
	tests := []struct {
		name         string
		r            result
		wantProblems int
	}{
		{"retried, one fresh", result{job: job{kind: kindRetried}, orders: []*purchasev1.Order{o("a"), o("a"), o("a")}, replayed: []bool{false, true, true}}, 0},
		{"retried, two fresh", result{job: job{kind: kindRetried}, orders: []*purchasev1.Order{o("a"), o("a"), o("a")}, replayed: []bool{false, false, true}}, 1},
		{"retried, two ids", result{job: job{kind: kindRetried}, orders: []*purchasev1.Order{o("a"), o("b"), o("a")}, replayed: []bool{false, true, true}}, 1},
		{"invalid accepted", result{job: job{kind: kindNoCustomer}, orders: []*purchasev1.Order{o("a")}, replayed: []bool{false}}, 1},
		{"invalid, right reason", result{job: job{kind: kindNoCustomer}, errs: []error{bad}}, 0},
		{"invalid, wrong reason", result{job: job{kind: kindZeroQty}, errs: []error{bad}}, 1},
		{"valid failed", result{job: job{kind: kindValid}, errs: []error{status.Error(codes.Unavailable, "down")}}, 1},
	}
	for _, tt := range tests {
		s := &summary{rejected: map[reason]int{}, transports: map[string]int{}}
		s.checkResults([]result{tt.r})
		if len(s.problems) != tt.wantProblems {
			t.Errorf("%s: problems %q, want %d", tt.name, s.problems, tt.wantProblems)
		}
	}
}
