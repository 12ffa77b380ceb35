package demo

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
)

// result is what the calls of one job returned.
type result struct {
	job      job
	orders   []*purchasev1.Order // one per successful call
	replayed []bool
	errs     []error // one per failed call
}

// latency collects PlaceOrder latencies in microseconds.
type latency struct {
	mu sync.Mutex // guards h
	h  *hdrhistogram.Histogram
}

func newLatency() *latency { return &latency{h: hdrhistogram.New(1, 120_000_000, 3)} }

func (l *latency) record(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.h.RecordValue(max(1, d.Microseconds()))
}

// quantile returns the q-th percentile (0-100).
func (l *latency) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.h.ValueAtQuantile(q)) * time.Microsecond
}

func (l *latency) count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.TotalCount()
}

// runBatch places every job through c with at most concurrency jobs in
// flight and returns the results in job order.
func runBatch(ctx context.Context, c purchasev1.PurchaseServiceClient, jobs []job, concurrency int, lat *latency) []result {
	results := make([]result, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range next {
				results[i] = runJob(ctx, c, jobs[i], lat)
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// runJob makes the job's calls; a retried job sends two calls at once
// (a client that timed out and retried while the first was in flight)
// and a third after both returned (a retry after a lost reply).
func runJob(ctx context.Context, c purchasev1.PurchaseServiceClient, j job, lat *latency) result {
	r := result{job: j}
	var mu sync.Mutex // guards r during the concurrent calls
	call := func() {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := c.PlaceOrder(ctx, j.req)
		lat.record(time.Since(start))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			r.errs = append(r.errs, err)
			return
		}
		r.orders = append(r.orders, resp.GetOrder())
		r.replayed = append(r.replayed, resp.GetReplayed())
	}
	if j.kind != kindRetried {
		call()
		return r
	}
	var wg sync.WaitGroup
	wg.Go(call)
	wg.Go(call)
	wg.Wait()
	call()
	return r
}

// reasonOf returns an error's code and the field its message names (the
// services write "<field>: <reason>").
func reasonOf(err error) reason {
	s := status.Convert(err)
	field, _, ok := strings.Cut(s.Message(), ": ")
	if !ok || strings.ContainsAny(field, " \t") || s.Code() == codes.OK {
		field = "-"
	}
	return reason{s.Code(), field}
}
