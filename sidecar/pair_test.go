package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"github.com/podwire/podwire/transport"
	"google.golang.org/genproto/googleapis/rpc/code"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestPairGRPC: app A → sidecar A → mux/TLS → sidecar B → app B, unary
// and server streaming.
func TestPairGRPC(t *testing.T) {
	p := newPair(t, pairOpts{})
	waitReady(t, p.a)
	cc := p.dialApp(t)
	hc := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for i := range 20 {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("unary call %d: %v", i, err)
		}
		if got, want := resp.GetStatus(), healthpb.HealthCheckResponse_SERVING; got != want {
			t.Fatalf("unary call %d: status %v, want %v", i, got, want)
		}
	}

	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "inventory"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := w.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first.GetStatus(), healthpb.HealthCheckResponse_SERVICE_UNKNOWN; got != want {
		t.Fatalf("first watch status %v, want %v", got, want)
	}
	for _, st := range []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING} {
		p.health.SetServingStatus("inventory", st)
		got, err := w.Recv()
		if err != nil {
			t.Fatalf("watch recv: %v", err)
		}
		if got.GetStatus() != st {
			t.Fatalf("watch status %v, want %v", got.GetStatus(), st)
		}
	}

	snap := p.b.Snapshot()
	var in []SessionInfo
	for _, s := range snap.Sessions {
		if s.Direction == "inbound" {
			in = append(in, s)
		}
	}
	if len(in) != 1 || in[0].SPIFFEID != "spiffe://podwire.local/purchase" || in[0].BytesRx == 0 {
		t.Errorf("B's inbound sessions = %+v, want one from spiffe://podwire.local/purchase with bytes", in)
	}
}

// TestPairHalfClose: a raw client writes, half-closes and still reads the
// whole echo: EOF crosses both sidecars as a half-close, not a close.
func TestPairHalfClose(t *testing.T) {
	p := newPair(t, pairOpts{rawEcho: true})
	waitReady(t, p.a)
	c, err := net.Dial("unix", filepath.Join(p.dirA, "inventory.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("podwire "), 50_000) // 400 KB, several windows
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(*net.UnixConn).CloseWrite()
		}
		errc <- err
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo: got %d bytes, want %d identical bytes", len(got), len(msg))
	}
}

// TestPairSharesOneConnection: many concurrent app connections become
// streams on one TCP connection between the sidecars.
func TestPairSharesOneConnection(t *testing.T) {
	p := newPair(t, pairOpts{})
	waitReady(t, p.a)
	const apps = 40
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, apps)
	for range apps {
		cc := p.dialApp(t) // one gRPC connection = one Unix conn = one stream
		wg.Go(func() {
			hc := healthpb.NewHealthClient(cc)
			for range 5 {
				if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					errs <- err
					return
				}
			}
			if err := callSleep(ctx, cc, 50); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call: %v", err)
	}
	if t.Failed() {
		snap, _ := json.Marshal(p.a.Snapshot())
		t.Logf("A refusals: dial=%v refused=%v; B refusals: header_timeout=%v app_unavailable=%v; A snapshot %s",
			counterValue(t, p.a, "podwire_sidecar_refusals_total", "reason", "dial"),
			counterValue(t, p.a, "podwire_sidecar_refusals_total", "reason", "refused"),
			counterValue(t, p.b, "podwire_sidecar_refusals_total", "reason", "header_timeout"),
			counterValue(t, p.b, "podwire_sidecar_refusals_total", "reason", "app_unavailable"), snap)
	}
	if got := p.bLn.n.Load(); got != 1 {
		t.Errorf("TCP connections accepted by B = %d, want 1", got)
	}
	var streams int
	for _, s := range p.b.Snapshot().Sessions {
		streams += s.Streams
	}
	if streams != apps {
		t.Errorf("streams on B's sessions = %d, want %d (one per app connection)", streams, apps)
	}
}

// TestRefusals: header problems, unknown services and wrong identities are
// refused with a code and a message that says what to do.
func TestRefusals(t *testing.T) {
	p := newPair(t, pairOpts{})
	tests := []struct {
		name     string
		peer     string
		header   *wirev1.StreamHeader
		code     uint32
		contains string
	}{
		{"unknown service", "purchase", &wirev1.StreamHeader{Version: 1, Service: "billing", Payload: wirev1.Payload_PAYLOAD_RAW}, uint32(code.Code_NOT_FOUND), `service "billing" is not served here`},
		{"wrong identity", "intruder", &wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_RAW}, uint32(code.Code_PERMISSION_DENIED), "peer spiffe://podwire.local/intruder is not allowed to call service \"inventory\""},
		{"allowed", "purchase", &wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_GRPC}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.muxPeer(t, tt.peer)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := s.DialService(ctx, tt.header)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("DialService: %v, want accepted", err)
				}
				c.Close()
				return
			}
			var re *mux.RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("DialService error = %v, want *mux.RefusedError", err)
			}
			if re.Code != tt.code || !strings.Contains(re.Message, tt.contains) {
				t.Errorf("refusal = code %d %q, want code %d containing %q", re.Code, re.Message, tt.code, tt.contains)
			}
			// #12.9: a refusal names the requested service only, never
			// what else this sidecar serves.
			if tt.header.GetService() != "inventory" && strings.Contains(re.Message, "inventory") {
				t.Errorf("refusal %q lists a served service; it must name only %q", re.Message, tt.header.GetService())
			}
		})
	}
	t.Run("unknown version", func(t *testing.T) {
		s := p.muxPeer(t, "purchase")
		c, err := s.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A valid frame of a future version, written without the
		// client-side validation of WriteHeader.
		body := []byte{0x08, 0x02, 0x12, 0x09, 'i', 'n', 'v', 'e', 'n', 't', 'o', 'r', 'y'}
		c.Write(append([]byte{0, byte(len(body))}, body...))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rep, err := mux.ReadReply(c)
		if err != nil {
			t.Fatalf("read reply: %v", err)
		}
		if rep.GetCode() != uint32(code.Code_FAILED_PRECONDITION) || !strings.Contains(rep.GetMessage(), "version") {
			t.Errorf("reply = code %d %q, want %d naming the version", rep.GetCode(), rep.GetMessage(), uint32(code.Code_FAILED_PRECONDITION))
		}
	})
}

// TestWrongIdentityThroughApp: a sidecar with a certificate B does not
// allow: the app's RPC fails, and A's metrics count the refusal.
func TestWrongIdentityThroughApp(t *testing.T) {
	p := newPair(t, pairOpts{clientName: "intruder"})
	waitReady(t, p.a)
	cc := p.dialApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("call through a forbidden identity succeeded")
	}
	if got := counterValue(t, p.b, "podwire_sidecar_refusals_total", "reason", "forbidden"); got < 1 {
		t.Errorf("B refusals{reason=forbidden} = %v, want >= 1", got)
	}
	if got := counterValue(t, p.a, "podwire_sidecar_refusals_total", "reason", "refused"); got < 1 {
		t.Errorf("A refusals{reason=refused} = %v, want >= 1", got)
	}
}

// counterValue sums the samples of a counter with label=value.
func counterValue(t testing.TB, s *Sidecar, name, label, value string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestDrain: Shutdown lets an in-flight call finish, refuses new
// connections, and returns once the streams end, within drain_timeout.
func TestDrain(t *testing.T) {
	p := newPair(t, pairOpts{drain: 5 * time.Second})
	waitReady(t, p.a)
	cc := p.dialApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := callSleep(ctx, cc, 0); err != nil { // establish the stream
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	go func() { callErr <- callSleep(ctx, cc, 500) }()
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	drained := make(chan error, 1)
	go func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		drained <- p.b.Shutdown(dctx)
	}()
	time.Sleep(50 * time.Millisecond)
	if p.b.Ready() {
		t.Error("B still ready while draining")
	}
	// A new app connection needs a new stream; B refuses it (GoAway, then
	// a closed listener), so the call fails instead of hanging.
	cc2 := p.dialApp(t)
	if err := callSleep(ctx, cc2, 0); err == nil {
		t.Error("new call during drain succeeded, want refused")
	}
	if err := <-callErr; err != nil {
		t.Fatalf("in-flight call during drain: %v", err)
	}
	cc.Close() // the app hangs up; its stream ends, so the drain completes
	if err := <-drained; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("drain took %v, want well under drain_timeout (5s) once the streams ended", d)
	}
}

// TestDrainTimeout: streams still open at drain_timeout are cut and
// Shutdown says so.
func TestDrainTimeout(t *testing.T) {
	p := newPair(t, pairOpts{rawEcho: true})
	waitReady(t, p.a)
	c, err := net.Dial("unix", filepath.Join(p.dirA, "inventory.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.b.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want a drain cut short by the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v after a 300ms deadline", d)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Error("app connection still open after the drain deadline")
	}
}

// TestSocketInUse: Start never steals a live upstream socket (the SDK's
// socket lifecycle, transport.ListenUnix) and replaces a stale one; Close
// removes it.
func TestSocketInUse(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "inventory.sock")
	pki := newTestPKI(t, "purchase")
	cfg := DefaultConfig()
	cfg.SocketDir, cfg.Admin, cfg.TLS = dir, "127.0.0.1:0", pki.files("purchase")
	cfg.Upstreams = []Upstream{{Name: "inventory", Address: "127.0.0.1:1", ServerName: "inventory"}}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	var inUse *SocketInUseError
	if !errors.Is(err, ErrSocketInUse) || !errors.As(err, &inUse) || inUse.Path != path {
		t.Errorf("Start over a live socket: %v, want ErrSocketInUse naming %s", err, path)
	}
	if err := transport.ProbeUnix(context.Background(), path); err != nil {
		t.Errorf("the live socket after the refused Start: %v, want still live", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // leaves a stale file
	s2 := startSidecar(t, cfg)
	if err := transport.ProbeUnix(context.Background(), path); err != nil {
		t.Errorf("upstream socket over a stale one: %v, want live", err)
	}
	s2.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after Close: stat err = %v, want not exist", err)
	}
}

// TestProbeOpensNoStream: connecting to an upstream socket and closing it
// without sending (a liveness probe) opens no stream to the peer, so B
// logs and counts nothing.
func TestProbeOpensNoStream(t *testing.T) {
	p := newPair(t, pairOpts{rawEcho: true})
	waitReady(t, p.a)
	for range 10 {
		if err := transport.ProbeUnix(context.Background(), filepath.Join(p.dirA, "inventory.sock")); err != nil {
			t.Fatalf("upstream socket not live: %v", err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := counterValue(t, p.a, "podwire_sidecar_streams_total", "direction", "outbound"); got != 0 {
		t.Errorf("outbound streams after 10 probes = %v, want 0", got)
	}
}

// TestServerFirstProtocol: an app that waits for the server to speak
// still gets its stream after firstByteWait.
func TestServerFirstProtocol(t *testing.T) {
	p := newPair(t, pairOpts{rawEcho: true})
	waitReady(t, p.a)
	c, err := net.Dial("unix", filepath.Join(p.dirA, "inventory.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(2 * firstByteWait) // silent: the stream opens anyway
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, p.a, "podwire_sidecar_streams_total", "direction", "outbound") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no stream opened for a silent app connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "late" {
		t.Fatalf("echo = %q, %v; want late", buf, err)
	}
}
