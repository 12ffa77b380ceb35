package integration

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/status"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
)

// attempt is one PlaceOrder call the test client made.
type attempt struct {
	key        string
	start, end time.Time
	err        error
}

// orderLoad places orders on purchase from the test process, each under a
// unique idempotency key and for one unit of one SKU, and records every
// attempt. Safe for concurrent use.
type orderLoad struct {
	pur            purchasev1.PurchaseServiceClient
	prefix         string
	sku            func(int) string
	retry          bool          // retry a failed order under the same key until it is accepted
	attemptTimeout time.Duration // deadline of one PlaceOrder call
	giveUp         time.Duration // retrying orders stop after this long

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex                   // guards the fields below
	attempts []attempt                    // in completion order
	accepted map[string]*purchasev1.Order // by idempotency key
	skuOf    map[string]string            // SKU of every key issued
	gaveUp   map[string]error             // retrying orders never accepted, last error
}

func newOrderLoad(pur purchasev1.PurchaseServiceClient, prefix string, sku func(int) string, retry bool) *orderLoad {
	ctx, cancel := context.WithCancel(context.Background())
	return &orderLoad{
		pur: pur, prefix: prefix, sku: sku, retry: retry,
		attemptTimeout: 4 * time.Second, giveUp: 2 * time.Minute,
		ctx: ctx, cancel: cancel,
		accepted: map[string]*purchasev1.Order{}, skuOf: map[string]string{}, gaveUp: map[string]error{},
	}
}

// startSteady issues rate orders per second, each on its own goroutine,
// until stop; with retry, each order is retried until accepted.
func startSteady(t testing.TB, pur purchasev1.PurchaseServiceClient, prefix string, rate int, sku func(int) string) *orderLoad {
	t.Helper()
	l := newOrderLoad(pur, prefix, sku, true)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.place(i)
			}()
			select {
			case <-l.ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(l.stop)
	return l
}

// startClosedLoop runs workers that each place one order after another
// without retrying, so about workers orders are always in flight.
func startClosedLoop(t testing.TB, pur purchasev1.PurchaseServiceClient, prefix string, workers int, sku func(int) string) *orderLoad {
	t.Helper()
	l := newOrderLoad(pur, prefix, sku, false)
	for w := range workers {
		l.wg.Go(func() {
			for i := w; l.ctx.Err() == nil; i += workers {
				l.place(i)
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

// stop issues no new orders and waits for those in flight (and their
// retries) to finish. Idempotent.
func (l *orderLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

// place runs order i to acceptance (or once, without retry).
func (l *orderLoad) place(i int) {
	key := fmt.Sprintf("%s-%d", l.prefix, i)
	sku := l.sku(i)
	l.mu.Lock()
	l.skuOf[key] = sku
	l.mu.Unlock()
	deadline := time.Now().Add(l.giveUp)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), l.attemptTimeout)
		a := attempt{key: key, start: time.Now()}
		resp, err := l.pur.PlaceOrder(ctx, orderFor(key, sku, 1))
		cancel()
		a.end, a.err = time.Now(), err
		l.mu.Lock()
		l.attempts = append(l.attempts, a)
		if err == nil {
			l.accepted[key] = resp.GetOrder()
		}
		l.mu.Unlock()
		if err == nil || !l.retry {
			return
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			l.gaveUp[key] = err
			l.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// results returns a copy of the attempts sorted by start time.
func (l *orderLoad) results() []attempt {
	l.mu.Lock()
	out := append([]attempt(nil), l.attempts...)
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// recovery is how long after back the first attempt that started at or
// after back succeeded (its completion time), or false if none did.
func (l *orderLoad) recovery(back time.Time) (time.Duration, bool) {
	best := time.Duration(-1)
	for _, a := range l.results() {
		if a.err == nil && !a.start.Before(back) {
			if d := a.end.Sub(back); best < 0 || d < best {
				best = d
			}
		}
	}
	return best, best >= 0
}

// failuresStartedAfter counts the failed attempts that started after t,
// with the first few errors.
func (l *orderLoad) failuresStartedAfter(t time.Time) (int, []string) {
	n := 0
	var sample []string
	for _, a := range l.results() {
		if a.err != nil && a.start.After(t) {
			n++
			if len(sample) < 5 {
				sample = append(sample, fmt.Sprintf("%s at +%s: %v (%v)", a.key, a.start.Sub(t).Round(time.Millisecond), a.err, status.Code(a.err)))
			}
		}
	}
	return n, sample
}

// summary counts orders, attempts and failed attempts by status code.
func (l *orderLoad) summary() string {
	res := l.results()
	failed := 0
	byCode := map[string]int{}
	for _, a := range res {
		if a.err != nil {
			failed++
			byCode[status.Code(a.err).String()]++
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d orders, %d accepted, %d attempts, %d failed attempts %v", len(l.skuOf), len(l.accepted), len(res), failed, byCode)
}
