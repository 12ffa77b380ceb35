package mux_test

// Benchmarks of gRPC over mux over TLS against bare gRPC over TLS (and
// plain yamux) in the same run. They live in package mux_test so package
// mux never imports grpc. On a shared machine, run rounds interleaved and
// compare transports within a round; cpu-ns/op (process CPU per op, both
// ends) is steadier than ns/op when other jobs compete for the cores:
//
//	for i in 1 2 3 4 5 6; do
//	  go test -run '^$' -bench '^Benchmark(Unary|Bulk|ChannelSetup|IdleChannel)$' -benchtime 1s ./mux
//	done | tee new.txt
//	benchstat -col /transport new.txt
//
// testdata/bench-*.txt hold the runs the figures in doc.go and
// DefaultConfig come from.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// echoService is a hand-written gRPC service over BytesValue: Unary echoes,
// Sink counts a client stream and answers once at the end.
var echoService = grpc.ServiceDesc{
	ServiceName: "podwire.bench.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return in, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Sink",
		ClientStreams: true,
		Handler: func(_ any, st grpc.ServerStream) error {
			in := new(wrapperspb.BytesValue)
			var n int64
			for {
				if err := st.RecvMsg(in); err == io.EOF {
					return st.SendMsg(wrapperspb.Int64(n))
				} else if err != nil {
					return err
				}
				n += int64(len(in.GetValue()))
			}
		},
	}},
}

var benchHeader = &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: "bench", Payload: wirev1.Payload_PAYLOAD_GRPC}

// transport is one way to carry gRPC between a client and a server in
// this process over loopback.
type transport struct {
	name string
	// dial returns a connected ClientConn; the server side is set up and
	// torn down with b.Cleanup.
	dial func(b *testing.B, opts ...grpc.DialOption) *grpc.ClientConn
}

var transports = []transport{
	{"tls", bareTLS},
	{"mux+tls", func(b *testing.B, opts ...grpc.DialOption) *grpc.ClientConn {
		return muxTLS(b, mux.DefaultConfig(), nil, opts...)
	}},
	{"mux+tls-window4M", func(b *testing.B, opts ...grpc.DialOption) *grpc.ClientConn {
		cfg := mux.DefaultConfig()
		cfg.StreamWindow = 4 << 20
		return muxTLS(b, cfg, nil, opts...)
	}},
	{"mux+tls-lean", func(b *testing.B, opts ...grpc.DialOption) *grpc.ClientConn {
		return muxTLS(b, mux.DefaultConfig(), leanServer, append(slices.Clone(leanDial), opts...)...)
	}},
	{"yamux+tls", rawYamuxTLS},
}

func newGRPCServer(b *testing.B, opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(opts...)
	s.RegisterService(&echoService, nil)
	return s
}

func tlsListener(b *testing.B) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return ln
}

// bareTLS is gRPC directly over TLS 1.3 (the baseline).
func bareTLS(b *testing.B, opts ...grpc.DialOption) *grpc.ClientConn {
	cliTLS, srvTLS := mux.BenchPKI(b)
	ln := tlsListener(b)
	srv := newGRPCServer(b, grpc.Creds(credentials.NewTLS(srvTLS)))
	go srv.Serve(ln)
	b.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(),
		append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cliTLS))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// tlsPair returns both ends of a handshaken TLS connection over loopback.
func tlsPair(b *testing.B) (client, server *tls.Conn) {
	cliTLS, srvTLS := mux.BenchPKI(b)
	ln := tlsListener(b)
	defer ln.Close()
	ch := make(chan *tls.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		s := tls.Server(c, srvTLS)
		s.Handshake()
		ch <- s
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cliTLS)
	if err != nil {
		b.Fatal(err)
	}
	s := <-ch
	if s == nil {
		b.Fatal("accept failed")
	}
	return c, s
}

func tlsServer(c net.Conn, cfg *tls.Config) *tls.Conn { return tls.Server(c, cfg) }

func tlsDial(addr string, cfg *tls.Config) (*tls.Conn, error) { return tls.Dial("tcp", addr, cfg) }

// headerListener turns a Session into the listener a gRPC server wants:
// it completes the podwire.wire.v1 exchange before handing a stream over.
type headerListener struct{ *mux.Session }

func (l headerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Session.Accept()
		if err != nil {
			return nil, err
		}
		if _, err := mux.ReadStreamHeader(c, time.Second); err != nil {
			c.Close()
			continue
		}
		if err := mux.Accept(c); err != nil {
			c.Close()
			continue
		}
		return c, nil
	}
}

// muxTLS is gRPC over one podwire mux stream over TLS; sopts go to the
// server, opts to the client.
func muxTLS(b *testing.B, cfg mux.Config, sopts []grpc.ServerOption, opts ...grpc.DialOption) *grpc.ClientConn {
	cs, ss := muxSessions(b, cfg)
	srv := newGRPCServer(b, sopts...)
	go srv.Serve(headerListener{ss})
	b.Cleanup(srv.Stop)
	return muxClient(b, cs, opts...)
}

func muxSessions(b *testing.B, cfg mux.Config) (client, server *mux.Session) {
	tc, ts := tlsPair(b)
	cs, err := mux.Client(tc, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ss, err := mux.Server(ts, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close(); ss.Close() })
	return cs, ss
}

func muxClient(b *testing.B, cs *mux.Session, opts ...grpc.DialOption) *grpc.ClientConn {
	cc, err := grpc.NewClient("passthrough:///peer", append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return cs.DialService(ctx, benchHeader)
		}),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// rawYamuxTLS is gRPC over unmodified yamux with DefaultConfig over TLS: the
// "before" row.
func rawYamuxTLS(b *testing.B, opts ...grpc.DialOption) *grpc.ClientConn {
	tc, ts := tlsPair(b)
	ycfg := yamux.DefaultConfig()
	ycfg.LogOutput = io.Discard
	cs, err := yamux.Client(tc, ycfg)
	if err != nil {
		b.Fatal(err)
	}
	ss, err := yamux.Server(ts, ycfg)
	if err != nil {
		b.Fatal(err)
	}
	srv := newGRPCServer(b)
	go srv.Serve(ss)
	b.Cleanup(func() { srv.Stop(); cs.Close(); ss.Close() })
	cc, err := grpc.NewClient("passthrough:///peer", append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return cs.Open() }),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// BenchmarkUnary is one 64-byte unary echo per op, sequential; it reports
// the median latency as p50-ns besides the mean ns/op.
func BenchmarkUnary(b *testing.B) {
	for _, tr := range transports {
		b.Run("transport="+tr.name, func(b *testing.B) {
			cc := tr.dial(b)
			ctx := context.Background()
			in := wrapperspb.Bytes(make([]byte, 64))
			out := new(wrapperspb.BytesValue)
			if err := cc.Invoke(ctx, "/podwire.bench.Echo/Unary", in, out); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuNanos()
			for range b.N {
				start := time.Now()
				if err := cc.Invoke(ctx, "/podwire.bench.Echo/Unary", in, out); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportCPU(b, cpu0)
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		})
	}
}

// reportCPU reports the process CPU time (both ends, all goroutines) per
// op since cpu0: unlike ns/op it barely depends on what else the shared
// machine runs.
func reportCPU(b *testing.B, cpu0 int64) {
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkBulk streams 1 MiB messages from client to server on one
// client-streaming RPC; MB/s is the throughput.
func BenchmarkBulk(b *testing.B) {
	for _, tr := range transports {
		b.Run("transport="+tr.name, func(b *testing.B) {
			benchBulk(b, tr.dial(b))
		})
	}
}

func benchBulk(b *testing.B, cc *grpc.ClientConn) {
	ctx := context.Background()
	msg := wrapperspb.Bytes(make([]byte, 1<<20))
	desc := &echoService.Streams[0]
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNanos()
	defer reportCPU(b, cpu0)
	st, err := cc.NewStream(ctx, desc, "/podwire.bench.Echo/Sink")
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if err := st.SendMsg(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.CloseSend(); err != nil {
		b.Fatal(err)
	}
	got := new(wrapperspb.Int64Value)
	if err := st.RecvMsg(got); err != nil {
		b.Fatal(err)
	}
	if got.GetValue() != int64(b.N)<<20 {
		b.Fatalf("server received %d bytes, want %d", got.GetValue(), int64(b.N)<<20)
	}
}

// BenchmarkChannelSetup opens a new logical channel per op: a new TLS
// connection (TCP connect + TLS 1.3 mutual handshake), or a new stream with
// the header exchange on a live mux session.
func BenchmarkChannelSetup(b *testing.B) {
	b.Run("transport=tls", func(b *testing.B) {
		cliTLS, srvTLS := mux.BenchPKI(b)
		ln := tlsListener(b)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				s := tls.Server(c, srvTLS)
				s.Handshake()
				s.Close()
			}
		}()
		b.Cleanup(func() { ln.Close(); wg.Wait() })
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			c, err := tls.Dial("tcp", ln.Addr().String(), cliTLS)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("transport=mux+tls", func(b *testing.B) {
		cs, ss := muxSessions(b, mux.DefaultConfig())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := headerListener{ss}
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		b.Cleanup(func() { ss.Close(); wg.Wait() })
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			c, err := cs.DialService(ctx, benchHeader)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}

// lean are the gRPC options recommended for channels over mux streams:
// the stream already buffers what arrives, so gRPC's 32 KiB read buffer
// per connection is a second copy (ReadBufferSize 0 reads the stream
// directly); a 128 KiB write buffer makes fewer, larger mux frames
// (BenchmarkBulkGRPCOptions), and sharing it returns it to a pool between
// flushes instead of every idle connection holding one.
var (
	leanDial = []grpc.DialOption{grpc.WithReadBufferSize(0),
		grpc.WithWriteBufferSize(128 << 10), grpc.WithSharedWriteBuffer(true)}
	leanServer = []grpc.ServerOption{grpc.ReadBufferSize(0),
		grpc.WriteBufferSize(128 << 10), grpc.SharedWriteBuffer(true)}
)

// BenchmarkIdleChannel measures what one idle logical channel costs: a
// grpc.ClientConn whose net.Conn is one mux stream, plus the server's
// transport for it, both in this process, after one RPC. It reports heap
// and goroutine-stack bytes per channel (the ns/op is meaningless).
func BenchmarkIdleChannel(b *testing.B) {
	for _, v := range []struct {
		name  string
		dial  []grpc.DialOption
		sopts []grpc.ServerOption
	}{
		{"grpc=default", nil, nil},
		{"grpc=lean", leanDial, leanServer},
		{"grpc=read4K+write4K+sharedwrite",
			[]grpc.DialOption{grpc.WithReadBufferSize(4 << 10), grpc.WithWriteBufferSize(4 << 10), grpc.WithSharedWriteBuffer(true)},
			[]grpc.ServerOption{grpc.ReadBufferSize(4 << 10), grpc.WriteBufferSize(4 << 10), grpc.SharedWriteBuffer(true)}},
	} {
		b.Run("transport=mux+tls/"+v.name, func(b *testing.B) {
			const channels = 200
			cs, ss := muxSessions(b, mux.DefaultConfig())
			srv := newGRPCServer(b, v.sopts...)
			go srv.Serve(headerListener{ss})
			b.Cleanup(srv.Stop)
			ctx := context.Background()
			in := wrapperspb.Bytes(make([]byte, 64))
			var heap, stack float64
			for range b.N {
				heap0, stack0 := memStats()
				ccs := make([]*grpc.ClientConn, channels)
				for i := range ccs {
					cc, err := grpc.NewClient("passthrough:///peer", append([]grpc.DialOption{
						grpc.WithTransportCredentials(insecure.NewCredentials()),
						grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
							return cs.DialService(ctx, benchHeader)
						}),
					}, v.dial...)...)
					if err != nil {
						b.Fatal(err)
					}
					if err := cc.Invoke(ctx, "/podwire.bench.Echo/Unary", in, new(wrapperspb.BytesValue)); err != nil {
						b.Fatal(err)
					}
					ccs[i] = cc
				}
				heap1, stack1 := memStats()
				heap += float64(heap1-heap0) / channels
				stack += float64(stack1-stack0) / channels
				for _, cc := range ccs {
					cc.Close()
				}
			}
			b.ReportMetric(heap/float64(b.N), "heap-B/channel")
			b.ReportMetric(stack/float64(b.N), "stack-B/channel")
		})
	}
}

func memStats() (heap, stack int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), int64(ms.StackInuse)
}

// BenchmarkBulkGRPCOptions compares gRPC buffer options for channels over
// mux streams: the stream already buffers what arrives, so gRPC's own read
// buffer is a second copy; larger write buffers make fewer, larger frames.
func BenchmarkBulkGRPCOptions(b *testing.B) {
	for _, v := range []struct {
		name  string
		dial  []grpc.DialOption
		sopts []grpc.ServerOption
	}{
		{"grpc=default", nil, nil},
		{"grpc=read0", []grpc.DialOption{grpc.WithReadBufferSize(0)}, []grpc.ServerOption{grpc.ReadBufferSize(0)}},
		{"grpc=write128K", []grpc.DialOption{grpc.WithWriteBufferSize(128 << 10)}, []grpc.ServerOption{grpc.WriteBufferSize(128 << 10)}},
		{"grpc=read0+write128K",
			[]grpc.DialOption{grpc.WithReadBufferSize(0), grpc.WithWriteBufferSize(128 << 10)},
			[]grpc.ServerOption{grpc.ReadBufferSize(0), grpc.WriteBufferSize(128 << 10)}},
	} {
		b.Run("transport=mux+tls/"+v.name, func(b *testing.B) {
			benchBulk(b, muxTLS(b, mux.DefaultConfig(), v.sopts, v.dial...))
		})
	}
}

// BenchmarkTuning compares mux settings for the DefaultConfig choices:
// write batching on/off and the stream window, on unary and bulk.
func BenchmarkTuning(b *testing.B) {
	for _, coalesce := range []bool{true, false} {
		for _, window := range []uint32{256 << 10, 1 << 20, 4 << 20} {
			name := fmt.Sprintf("batch=%v/window=%dK", coalesce, window>>10)
			cfg := mux.DefaultConfig()
			cfg.StreamWindow = window
			b.Run("op=unary/"+name, func(b *testing.B) {
				old := mux.SetBatchWrites(coalesce)
				cc := muxTLS(b, cfg, nil)
				mux.SetBatchWrites(old)
				ctx := context.Background()
				in := wrapperspb.Bytes(make([]byte, 64))
				out := new(wrapperspb.BytesValue)
				b.ReportAllocs()
				for range b.N {
					if err := cc.Invoke(ctx, "/podwire.bench.Echo/Unary", in, out); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("op=bulk/"+name, func(b *testing.B) {
				old := mux.SetBatchWrites(coalesce)
				cc := muxTLS(b, cfg, nil)
				mux.SetBatchWrites(old)
				benchBulk(b, cc)
			})
		}
	}
}
