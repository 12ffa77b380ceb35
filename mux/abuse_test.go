package mux

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podwire/podwire/internal/framescan"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// usage is a snapshot of what an attack costs the process.
type usage struct {
	goroutines int
	heap       uint64 // HeapInuse bytes
	rss        uint64 // VmRSS bytes, 0 where /proc is missing
}

func snapshot() usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{goroutines: runtime.NumGoroutine(), heap: ms.HeapInuse, rss: vmRSS()}
}

// vmRSS reads the process's resident set from /proc/self/status (Linux).
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peak samples usage every millisecond until stop is closed, and returns
// the highest goroutine count and heap seen.
func peak(stop <-chan struct{}) <-chan usage {
	out := make(chan usage, 1)
	go func() {
		var max usage
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			u := snapshot()
			max.goroutines = maxOf(max.goroutines, u.goroutines)
			max.heap = maxOf(max.heap, u.heap)
			max.rss = maxOf(max.rss, u.rss)
			select {
			case <-stop:
				out <- max
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func maxOf[T int | uint64](a, b T) T {
	if a > b {
		return a
	}
	return b
}

// pingFrames returns n ping-request frames back to back.
func pingFrames(n int) []byte {
	b := make([]byte, 0, n*framescan.HeaderSize)
	for i := range n {
		b = framescan.Header{Type: framescan.TypePing, Flags: framescan.FlagSYN, Length: uint32(i)}.Encode(b)
	}
	return b
}

// TestPingFloodClosesSession: a peer writes ping requests as fast as it
// can and never reads the replies (#12.6). The session is closed within
// milliseconds, counted, and goroutines and memory stay bounded.
func TestPingFloodClosesSession(t *testing.T) {
	for _, kind := range []struct {
		name string
		make connMaker
	}{{"uds", udsConns}, {"pipe", pipeConns}} {
		t.Run(kind.name, func(t *testing.T) {
			attacker, sc := kind.make(t)
			defer attacker.Close()
			m := newCountingMetrics()
			cfg := testConfig()
			cfg.Metrics = m
			runtime.GC()
			before := snapshot()
			stop := make(chan struct{})
			peaks := peak(stop)
			server, err := Server(sc, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()

			batch := pingFrames(512)
			sent, start := 0, time.Now()
			werr := make(chan error, 1)
			go func() {
				for {
					attacker.SetWriteDeadline(time.Now().Add(5 * time.Second))
					n, err := attacker.Write(batch)
					sent += n / framescan.HeaderSize
					if err != nil {
						werr <- err
						return
					}
				}
			}()
			select {
			case <-server.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("session still open 5 s into a ping flood")
			}
			closed := time.Since(start)
			attacker.Close()
			<-werr
			close(stop)
			p := <-peaks
			t.Logf("ping flood: %d pings written in %v; session closed after %v; goroutines +%d at peak; heap +%.1f MB at peak; RSS +%.1f MB at peak (limit %d/s)",
				sent, closed.Round(time.Microsecond), closed.Round(time.Microsecond), p.goroutines-before.goroutines,
				float64(int64(p.heap)-int64(before.heap))/1e6, float64(int64(p.rss)-int64(before.rss))/1e6, cfg.MaxPingsPerSecond)

			if !errors.Is(server.Err(), ErrPingFlood) {
				t.Errorf("Err() = %v, want ErrPingFlood", server.Err())
			}
			if got := m.get("killed/" + KillPingFlood); got != 1 {
				t.Errorf("SessionKilled(ping_flood) = %d, want 1", got)
			}
			if closed > time.Second {
				t.Errorf("session closed %v into the flood, want within 1 s", closed)
			}
			if d := p.goroutines - before.goroutines; d > 2*cfg.MaxPingsPerSecond+50 {
				t.Errorf("goroutines grew by %d at peak, want at most %d (one per allowed ping plus the session's)", d, 2*cfg.MaxPingsPerSecond+50)
			}
			if d := int64(p.heap) - int64(before.heap); d > 50<<20 {
				t.Errorf("heap grew by %d MB at peak, want under 50 MB", d>>20)
			}
		})
	}
}

// TestPingsWithinBudgetKeepSession: a peer that pings within
// MaxPingsPerSecond (a burst up to the rate, then the rate) keeps its
// session.
func TestPingsWithinBudgetKeepSession(t *testing.T) {
	client, server := sessionPair(t, udsConns, Config{MaxPingsPerSecond: 50})
	for i := range 60 {
		if _, err := client.ys.Ping(); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		if i >= 40 {
			time.Sleep(25 * time.Millisecond) // 40/s after a burst of 40
		}
	}
	if err := server.Err(); err != nil {
		t.Fatalf("server session died after pings within budget: %v", err)
	}
}

// TestRefusalFloodClosesSession: a peer that keeps opening streams the
// server refuses (#12.7) has its session closed once it earns more than
// MaxRefusalsPerSecond refusals.
func TestRefusalFloodClosesSession(t *testing.T) {
	m := newCountingMetrics()
	cfg := testConfig()
	cfg.Metrics = m
	cfg.MaxInboundStreams = 1
	client, server := sessionPair(t, udsConns, cfg)
	// Hold the one stream the server allows; every further open is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	held, err := client.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	start := time.Now()
	opens := 0
	for server.Err() == nil && ctx.Err() == nil {
		c, err := client.Open(ctx)
		if err != nil {
			break
		}
		opens++
		c.Close()
	}
	select {
	case <-server.Done():
	case <-ctx.Done():
		t.Fatal("session still open 5 s into a refusal flood")
	}
	t.Logf("refusal flood: %d opens, session closed after %v; refused %d",
		opens, time.Since(start).Round(time.Microsecond), m.get("refused/inbound/RESOURCE_EXHAUSTED"))
	if !errors.Is(server.Err(), ErrRefusalFlood) {
		t.Errorf("Err() = %v, want ErrRefusalFlood", server.Err())
	}
	if got := m.get("killed/" + KillRefusalFlood); got != 1 {
		t.Errorf("SessionKilled(refusal_flood) = %d, want 1", got)
	}
}

// TestRefuseCountsAgainstBudget: refusals made by the layer above (an
// unknown service) count too.
func TestRefuseCountsAgainstBudget(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRefusalsPerSecond = 5
	client, server := sessionPair(t, udsConns, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			Refuse(c, codeNotFound, "no such service")
		}
	}()
	for i := 0; server.Err() == nil && ctx.Err() == nil; i++ {
		c, err := client.Open(ctx)
		if err != nil {
			break
		}
		c.Write([]byte{0})
		c.Close()
		time.Sleep(time.Millisecond)
	}
	select {
	case <-server.Done():
	case <-ctx.Done():
		t.Fatal("session still open after refusals past the budget")
	}
	wg.Wait()
	if !errors.Is(server.Err(), ErrRefusalFlood) {
		t.Errorf("Err() = %v, want ErrRefusalFlood", server.Err())
	}
}

var _ net.Conn = (*stream)(nil)

// TestStreamQuotaAcrossSessions: 10 sessions sharing one StreamQuota each
// open streams that the server accepts and nobody reads (#12.7). Together
// they never hold more than the quota; opens past it are refused. Then one
// session floods opens: it is closed for its refusals, with bounded
// memory, and every share comes back when the sessions close.
func TestStreamQuotaAcrossSessions(t *testing.T) {
	const sessions, perSession, quotaMax = 10, 100, 300
	quota, err := NewStreamQuota(quotaMax)
	if err != nil {
		t.Fatal(err)
	}
	m := newCountingMetrics()
	// Keepalive as shipped: 20 sessions on a loaded 2-core VM under -race
	// miss testConfig's 500 ms pong deadline.
	cfg := Config{StreamQuota: quota, Metrics: m}
	runtime.GC()
	before := snapshot()
	stop := make(chan struct{})
	peaks := peak(stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var apps, openers sync.WaitGroup
	var accepted atomic.Int64
	clients := make([]*Session, sessions)
	servers := make([]*Session, sessions)
	for i := range sessions {
		clients[i], servers[i] = sessionPair(t, udsConns, cfg)
		server := servers[i]
		apps.Add(1)
		go func() { // the server's app: accepts, never reads, never closes
			defer apps.Done()
			for {
				if _, err := server.Accept(); err != nil {
					return
				}
				accepted.Add(1)
			}
		}()
	}
	// Phase 1: each session opens perSession streams with a valid header
	// and never reads.
	h := &wirev1.StreamHeader{Version: HeaderVersion, Service: "inventory"}
	for _, client := range clients {
		openers.Add(1)
		go func() {
			defer openers.Done()
			for range perSession {
				c, err := client.Open(ctx)
				if err != nil {
					return
				}
				WriteHeader(c, h)
			}
		}()
	}
	openers.Wait()
	waitFor(t, func() bool {
		return accepted.Load()+m.get("refused/inbound/RESOURCE_EXHAUSTED") == sessions*perSession
	}, "every open accepted or refused")
	held, inUse := accepted.Load(), quota.InUse()
	refusedPhase1 := m.get("refused/inbound/RESOURCE_EXHAUSTED")

	// Phase 2: session 0 floods opens past the quota.
	flood, start := 0, time.Now()
	for clients[0].Err() == nil && servers[0].Err() == nil && ctx.Err() == nil {
		c, err := clients[0].Open(ctx)
		if err != nil {
			break
		}
		flood++
		c.Close()
	}
	select {
	case <-servers[0].Done():
	case <-ctx.Done():
		t.Fatal("flooding session still open after 20 s")
	}
	floodTime := time.Since(start)
	close(stop)
	p := <-peaks
	t.Logf("stream quota %d over %d sessions × %d opens: %d held, %d refused; flood: %d opens, session closed after %v (%v); goroutines +%d, heap +%.1f MB, RSS +%.1f MB at peak",
		quotaMax, sessions, perSession, held, refusedPhase1, flood, floodTime.Round(time.Millisecond), servers[0].Err(),
		p.goroutines-before.goroutines, float64(int64(p.heap)-int64(before.heap))/1e6, float64(int64(p.rss)-int64(before.rss))/1e6)
	if held != quotaMax || inUse != quotaMax {
		t.Errorf("held %d streams, quota in use %d; want both %d (the quota, filled and never exceeded)", held, inUse, quotaMax)
	}
	if want := int64(sessions*perSession - quotaMax); refusedPhase1 != want {
		t.Errorf("refused %d streams past the quota, want %d", refusedPhase1, want)
	}
	if !errors.Is(servers[0].Err(), ErrRefusalFlood) {
		t.Errorf("flooding session: Err() = %v, want ErrRefusalFlood", servers[0].Err())
	}
	if d := int64(p.heap) - int64(before.heap); d > 100<<20 {
		t.Errorf("heap grew by %d MB at peak, want under 100 MB", d>>20)
	}
	for i := range sessions {
		clients[i].Close()
		servers[i].Close()
	}
	apps.Wait()
	if got := quota.InUse(); got != 0 {
		t.Errorf("quota in use after every session closed = %d, want 0 (streams the app never closed)", got)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(tb testing.TB, cond func() bool, what string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReadStreamHeaderZeroTimeout: a zero timeout means the default
// HeaderTimeout, not an expired deadline.
func TestReadStreamHeaderZeroTimeout(t *testing.T) {
	opened, accepted := streamPipe(t, pipeConns)
	go WriteHeader(opened, &wirev1.StreamHeader{Version: HeaderVersion, Service: "inventory"})
	h, err := ReadStreamHeader(accepted, 0)
	if err != nil || h.GetService() != "inventory" {
		t.Fatalf("ReadStreamHeader(c, 0) = %v, %v; want the header", h, err)
	}
}
