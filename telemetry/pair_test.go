package telemetry

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/podwire/podwire/sidecar"
	"github.com/podwire/podwire/transport/certs"
)

// span is what the receiver keeps of an exported span.
type span struct {
	service, name string
	kind          tracepb.Span_SpanKind
	traceID       string
	spanID        string
	parentID      string
}

// otlpReceiver is an in-test OTLP/HTTP collector: it decodes every POST
// to /v1/traces as an ExportTraceServiceRequest.
type otlpReceiver struct {
	srv  *http.Server
	addr string
	mu   sync.Mutex // guards spans
	got  []span
}

// startReceiver listens on loopback and serves until Cleanup.
func startReceiver(t testing.TB) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.traces)
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.srv.Serve(ln) }()
	t.Cleanup(func() { r.srv.Close(); <-done })
	return r
}

func (r *otlpReceiver) traces(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.got = append(r.got, span{service: service, name: s.GetName(), kind: s.GetKind(),
					traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()),
					parentID: hex.EncodeToString(s.GetParentSpanId())})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// spans returns what was received so far.
func (r *otlpReceiver) spans() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]span(nil), r.got...)
}

// shortDir is a temp dir with a path short enough for Unix sockets.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pwt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startSidecar starts a sidecar from cfg and closes it on Cleanup.
func startSidecar(t testing.TB, cfg sidecar.Config) *sidecar.Sidecar {
	t.Helper()
	s, err := sidecar.New(cfg)
	if err != nil {
		t.Fatalf("sidecar.New: %v", err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("sidecar Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startApp serves health on a Unix socket at path with tel's server
// options, as app B ("inventory").
func startApp(t testing.TB, path string, tel *Telemetry) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(tel.ServerOptions()...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		hs.Shutdown()
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
}

// TestTraceCrossesSidecarPair: app A (purchase) calls app B (inventory)
// through sidecar A and sidecar B; both apps export spans with the OTLP
// exporter configured by OTEL_* to an in-test receiver, which finds one
// trace: A's client span the parent of B's server span.
func TestTraceCrossesSidecarPair(t *testing.T) {
	rcv := startReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+rcv.addr)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	telA, err := Setup(t.Context(), "purchase")
	if err != nil {
		t.Fatal(err)
	}
	telB, err := Setup(t.Context(), "inventory")
	if err != nil {
		t.Fatal(err)
	}
	if !telA.Enabled() || telA.MeterProvider() != nil {
		t.Fatalf("Setup with an OTLP endpoint and OTEL_METRICS_EXPORTER=none: enabled %v, meter provider %v; want traces only", telA.Enabled(), telA.MeterProvider())
	}
	pki := t.TempDir()
	if err := certs.Write(pki, []string{"purchase", "inventory"}); err != nil {
		t.Fatal(err)
	}
	files := func(n string) sidecar.TLSFiles {
		return sidecar.TLSFiles{Cert: filepath.Join(pki, n+".crt"), Key: filepath.Join(pki, n+".key"), CA: filepath.Join(pki, "ca.crt")}
	}
	dirA, dirB := shortDir(t), shortDir(t)
	startApp(t, filepath.Join(dirB, "inventory.sock"), telB)
	cfgB := sidecar.DefaultConfig()
	cfgB.SocketDir, cfgB.Admin, cfgB.Listen, cfgB.TLS = dirB, "127.0.0.1:0", "127.0.0.1:0", files("inventory")
	cfgB.Services = []sidecar.Service{{Name: "inventory", Allow: []string{"spiffe://podwire.local/purchase"}}}
	b := startSidecar(t, cfgB)
	cfgA := sidecar.DefaultConfig()
	cfgA.SocketDir, cfgA.Admin, cfgA.TLS = dirA, "127.0.0.1:0", files("purchase")
	cfgA.Upstreams = []sidecar.Upstream{{Name: "inventory", Address: b.InboundAddr(), ServerName: "inventory"}}
	startSidecar(t, cfgA)

	cc, err := grpc.NewClient("unix://"+filepath.Join(dirA, "inventory.sock"),
		append(telA.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check through the sidecar pair: %v", err)
	}
	for _, tel := range []*Telemetry{telA, telB} {
		if err := tel.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown (flushes the spans): %v", err)
		}
	}
	var client, server *span
	for _, s := range rcv.spans() {
		switch {
		case s.service == "purchase" && s.kind == tracepb.Span_SPAN_KIND_CLIENT && s.name == "grpc.health.v1.Health/Check":
			client = &s
		case s.service == "inventory" && s.kind == tracepb.Span_SPAN_KIND_SERVER && s.name == "grpc.health.v1.Health/Check":
			server = &s
		}
	}
	if client == nil || server == nil {
		t.Fatalf("received spans %+v; want purchase's client span and inventory's server span of Health/Check", rcv.spans())
	}
	if client.traceID != server.traceID || server.parentID != client.spanID {
		t.Errorf("client span %+v and server span %+v: want one trace id, the server's parent the client span", *client, *server)
	}
	t.Logf("one trace %s: purchase client span %s → sidecar A → sidecar B → inventory server span %s (parent %s)",
		client.traceID, client.spanID, server.spanID, server.parentID)
	if client.traceID == "" || client.traceID == strings.Repeat("0", 32) {
		t.Errorf("trace id %q is not valid", client.traceID)
	}
}
