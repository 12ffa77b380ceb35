package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// kind says which figure heads a workload and which way is better.
type kind int

const (
	kindLatency    kind = iota // headline p50 µs, lower is better
	kindThroughput             // headline RPC/s, higher is better
	kindBulk                   // headline MiB/s, higher is better
	kindMemory                 // headline heap bytes per unit, lower is better
)

// sample is what one workload run on one row measured.
type sample struct {
	percentiles
	RPS, MiBs         float64
	AllocsOp, BytesOp float64
	// HeapPerUnit is the heap growth per channel or stream, in bytes.
	HeapPerUnit float64
	// GoroutinesPerUnit is the goroutine growth per channel or stream.
	GoroutinesPerUnit float64
	// RSSDeltaKiB is the growth of the process RSS over the whole run (Linux only).
	RSSDeltaKiB float64
	Ops         int64
	// cost is wake-ups, CPU and goroutine runs per op (not for memory workloads).
	cost cost
}

// params sizes a workload run; quick and full modes differ only here.
type params struct {
	duration     time.Duration // timed workloads run this long
	setupCount   int           // channels made by the setup workload
	idleChannels int           // channels held by idle_mem
	streams      int           // streams held by streams
	bulkPerCall  uint32        // 1 MiB messages per bulk call
}

// workload is one thing every applicable row does once per round.
type workload struct {
	ID    string
	Title string
	kind  kind
	// applies says which rows run it.
	applies func(Row) bool
	run     func(ctx context.Context, in *instance, p params) (sample, error)
}

func (w workload) appliesTo(r Row) bool { return w.applies(r) }

// Which rows a workload runs on.
var (
	grpcOnly    = func(r Row) bool { return r.Family != FamilyRaw }
	rawAndGRPC  = func(Row) bool { return true }
	channelRows = func(r Row) bool { return r.OpensChannels }
)

// allWorkloads lists the workloads in report order.
func allWorkloads() []workload {
	return []workload{
		{"unary_c1", "unary 64 B, 1 caller", kindLatency, grpcOnly, concurrentUnary(1)},
		{"unary_c16", "unary 64 B, 16 callers", kindThroughput, grpcOnly, concurrentUnary(16)},
		{"unary_c64", "unary 64 B, 64 callers", kindThroughput, grpcOnly, concurrentUnary(64)},
		{"pingpong", "bidi-stream ping-pong 64 B (raw rows: 64 B echo on the socket)", kindLatency, rawAndGRPC, runPingPong},
		{"bulk", "server-stream bulk, 1 MiB messages", kindBulk, grpcOnly, runBulk},
		{"setup", "new gRPC channel to its first reply: new client + connect (+ TLS handshake, or a stream on the live mux session) + one call + close; raw rows: dial + one echo + close", kindLatency, rawAndGRPC, runSetup},
		{"channel_open", "new connection-level channel, no gRPC: UDS/TCP dial, TCP+TLS dial and handshake, or a new stream on the live mux session with its podwire.wire.v1 header accepted; then close", kindLatency, channelRows, runChannelOpen},
		{"idle_mem", "idle channels: heap and goroutines per channel, both ends; RSS growth", kindMemory, grpcOnly, runIdleMem},
		{"streams", "concurrent open streams on one channel: heap, goroutines per stream; RSS growth", kindMemory, grpcOnly, runStreams},
	}
}

// WorkloadIDs lists every workload id in report order.
func WorkloadIDs() []string {
	var ids []string
	for _, w := range allWorkloads() {
		ids = append(ids, w.ID)
	}
	return ids
}

// concurrentUnary runs c callers issuing 64-byte unary echoes for p.duration.
func concurrentUnary(c int) func(context.Context, *instance, params) (sample, error) {
	return func(ctx context.Context, in *instance, p params) (sample, error) {
		payload := make([]byte, smallPayload)
		hists := make([]*hdrhistogram.Histogram, c)
		errs := make([]error, c)
		var wg sync.WaitGroup
		m0 := readMem()
		start := time.Now()
		deadline := start.Add(p.duration)
		for i := range c {
			hists[i] = newHistogram()
			wg.Go(func() {
				for time.Now().Before(deadline) {
					t := time.Now()
					if err := callUnary(ctx, in.conn, payload); err != nil {
						errs[i] = err
						return
					}
					record(hists[i], time.Since(t))
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		m1 := readMem()
		if err := errors.Join(errs...); err != nil {
			return sample{}, err
		}
		h := newHistogram()
		for _, x := range hists {
			h.Merge(x)
		}
		return latencySample(h, elapsed, m0, m1), nil
	}
}

// latencySample turns a histogram and its run into a sample with RPC/s.
func latencySample(h *hdrhistogram.Histogram, elapsed time.Duration, m0, m1 memSnapshot) sample {
	s := sample{percentiles: percentilesOf(h), Ops: h.TotalCount()}
	if elapsed > 0 {
		s.RPS = float64(s.Ops) / elapsed.Seconds()
	}
	s.AllocsOp, s.BytesOp = perOp(m0, m1, s.Ops)
	return s
}

// runPingPong bounces 64 bytes over one stream (or one raw conn) for p.duration.
func runPingPong(ctx context.Context, in *instance, p params) (sample, error) {
	h := newHistogram()
	if in.rawConn != nil {
		out, back := make([]byte, smallPayload), make([]byte, smallPayload)
		m0 := readMem()
		start := time.Now()
		for deadline := start.Add(p.duration); time.Now().Before(deadline); {
			t := time.Now()
			if err := rawPing(in.rawConn, out, back); err != nil {
				return sample{}, err
			}
			record(h, time.Since(t))
		}
		return latencySample(h, time.Since(start), m0, readMem()), nil
	}
	s, err := openPingPong(ctx, in.conn)
	if err != nil {
		return sample{}, err
	}
	m, reply := wrapperspb.Bytes(make([]byte, smallPayload)), new(wrapperspb.BytesValue)
	m0 := readMem()
	start := time.Now()
	for deadline := start.Add(p.duration); time.Now().Before(deadline); {
		t := time.Now()
		if err := pingOnce(s, m, reply); err != nil {
			return sample{}, err
		}
		record(h, time.Since(t))
	}
	res := latencySample(h, time.Since(start), m0, readMem())
	return res, closePingPong(s)
}

// minBulkCalls is the fewest timed calls a bulk run makes, whatever
// p.duration: a quick run's 60 ms is less than one 8 MiB call on some rows,
// and a rate measured over one call is mostly its first window's ramp.
const minBulkCalls = 3

// runBulk asks for bulk messages, p.bulkPerCall per call, for p.duration
// and at least minBulkCalls calls, after one untimed call. As deployed every
// round starts fresh processes, and the first large call through one is
// start-up (a Go process growing its heap from 4 MiB, buffers and windows
// growing), not the steady state a long-running server or sidecar is in;
// in quick runs it decided the bulk ratios (sidecar ÷ nginx 0.53–0.72
// with it, ~1.0 at 300 ms per row).
func runBulk(ctx context.Context, in *instance, p params) (sample, error) {
	if _, err := callBulk(ctx, in.conn, p.bulkPerCall); err != nil {
		return sample{}, err
	}
	var total int64
	m0 := readMem()
	start := time.Now()
	for calls, deadline := 0, start.Add(p.duration); calls < minBulkCalls || time.Now().Before(deadline); calls++ {
		n, err := callBulk(ctx, in.conn, p.bulkPerCall)
		if err != nil {
			return sample{}, err
		}
		total += n
	}
	elapsed := time.Since(start)
	m1 := readMem()
	msgs := total / bulkMessageSize
	s := sample{Ops: msgs, MiBs: float64(total) / (1 << 20) / elapsed.Seconds()}
	s.AllocsOp, s.BytesOp = perOp(m0, m1, msgs)
	return s, nil
}

// runSetup times p.setupCount fresh channels from creation to first reply.
// For gRPC rows a channel is newConn + one unary echo + Close; for raw rows
// it is a dial + one 64-byte echo + Close.
func runSetup(ctx context.Context, in *instance, p params) (sample, error) {
	h := newHistogram()
	m0 := readMem()
	start := time.Now()
	for range p.setupCount {
		t := time.Now()
		var err error
		if in.dialRaw != nil {
			err = rawSetupOnce(ctx, in)
		} else {
			err = grpcSetupOnce(ctx, in)
		}
		if err != nil {
			return sample{}, err
		}
		record(h, time.Since(t))
	}
	return latencySample(h, time.Since(start), m0, readMem()), nil
}

// runChannelOpen times p.setupCount connection-level channels: opened
// (dial, handshake or mux stream + header exchange) and closed.
func runChannelOpen(ctx context.Context, in *instance, p params) (sample, error) {
	h := newHistogram()
	m0 := readMem()
	start := time.Now()
	for range p.setupCount {
		t := time.Now()
		c, err := in.openChannel(ctx)
		if err != nil {
			return sample{}, fmt.Errorf("open channel: %w", err)
		}
		record(h, time.Since(t))
		if err := c.Close(); err != nil {
			return sample{}, fmt.Errorf("close channel: %w", err)
		}
	}
	return latencySample(h, time.Since(start), m0, readMem()), nil
}

func rawSetupOnce(ctx context.Context, in *instance) error {
	c, err := in.dialRaw(ctx)
	if err != nil {
		return fmt.Errorf("setup dial: %w", err)
	}
	err = rawPing(c, make([]byte, smallPayload), make([]byte, smallPayload))
	return errors.Join(err, c.Close())
}

func grpcSetupOnce(ctx context.Context, in *instance) error {
	cc, err := in.newConn(ctx)
	if err != nil {
		return fmt.Errorf("setup new client: %w", err)
	}
	err = callUnary(ctx, cc, make([]byte, smallPayload))
	return errors.Join(err, cc.Close())
}

// runIdleMem opens p.idleChannels channels, makes each answer once, and
// reads heap and goroutine growth per channel with both ends in-process,
// and the process RSS growth over all of them.
func runIdleMem(ctx context.Context, in *instance, p params) (sample, error) {
	base := newBaseline()
	conns := make([]*grpc.ClientConn, 0, p.idleChannels)
	closeAll := func() error {
		var errs []error
		for _, cc := range conns {
			errs = append(errs, cc.Close())
		}
		return errors.Join(errs...)
	}
	for range p.idleChannels {
		cc, err := in.newConn(ctx)
		if err != nil {
			return sample{}, errors.Join(fmt.Errorf("idle_mem new client: %w", err), closeAll())
		}
		conns = append(conns, cc)
		if err := callUnary(ctx, cc, make([]byte, smallPayload)); err != nil {
			return sample{}, errors.Join(err, closeAll())
		}
	}
	return base.finish(ctx, p.idleChannels, closeAll)
}

// runStreams holds p.streams ping-pong streams open on the row's channel,
// each having answered once, and reads heap, goroutine and RSS growth.
func runStreams(ctx context.Context, in *instance, p params) (sample, error) {
	base := newBaseline()
	streams := make([]grpc.ClientStream, 0, p.streams)
	closeAll := func() error {
		var errs []error
		for _, s := range streams {
			errs = append(errs, closePingPong(s))
		}
		return errors.Join(errs...)
	}
	m, reply := wrapperspb.Bytes(make([]byte, smallPayload)), new(wrapperspb.BytesValue)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range p.streams {
		s, err := openPingPong(sctx, in.conn)
		if err != nil {
			return sample{}, err
		}
		streams = append(streams, s)
		if err := pingOnce(s, m, reply); err != nil {
			return sample{}, err
		}
	}
	return base.finish(ctx, p.streams, closeAll)
}

// baseline is the goroutine count, heap and RSS of the process before a
// memory workload opens its units (channels or streams).
type baseline struct {
	goroutines int
	mem        memSnapshot
	rssKiB     int64
	rssOK      bool
}

// newBaseline settles the heap and reads the baseline.
func newBaseline() baseline {
	g, m := settle()
	rss, ok := readRSSKiB()
	return baseline{goroutines: g, mem: m, rssKiB: rss, rssOK: ok}
}

// finish reads the growth since b per unit of n open units, then closes
// them with closeAll and waits for their goroutines to end.
func (b baseline) finish(ctx context.Context, n int, closeAll func() error) (sample, error) {
	g1, m1 := settle()
	rss1, rssOK1 := readRSSKiB()
	s := sample{
		Ops:               int64(n),
		HeapPerUnit:       (float64(m1.heapAlloc) - float64(b.mem.heapAlloc)) / float64(n),
		GoroutinesPerUnit: float64(g1-b.goroutines) / float64(n),
	}
	if b.rssOK && rssOK1 {
		s.RSSDeltaKiB = float64(rss1) - float64(b.rssKiB)
	}
	if err := closeAll(); err != nil {
		return sample{}, err
	}
	waitGoroutines(ctx, b.goroutines)
	return s, nil
}
