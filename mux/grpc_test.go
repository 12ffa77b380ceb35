package mux_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/podwire/podwire/mux"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// tlsSessions starts a client and a server session over mutual TLS on
// loopback for tests in this package.
func tlsSessions(t *testing.T) (client, server *mux.Session) {
	t.Helper()
	cliTLS, srvTLS := mux.BenchPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan *mux.Session, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		s, _ := mux.Server(tlsServer(c, srvTLS), mux.DefaultConfig())
		ch <- s
	}()
	c, err := tlsDial(ln.Addr().String(), cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	client, err = mux.Client(c, mux.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	server = <-ch
	if server == nil {
		t.Fatal("server session failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// serveGRPC serves the echo service on the streams s accepts and returns
// the channel Serve's error arrives on.
func serveGRPC(t *testing.T, s *mux.Session) <-chan error {
	t.Helper()
	srv := grpc.NewServer(leanServer...)
	srv.RegisterService(&echoService, nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(headerListener{s}) }()
	t.Cleanup(srv.Stop)
	return errc
}

func grpcOver(t *testing.T, s *mux.Session) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///peer", append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return s.DialService(ctx, benchHeader)
		}),
	}, leanDial...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestGRPCBothDirections runs gRPC over one TLS connection both ways: the
// dialing side calls the accepting side, and the accepting side calls back
// (reverse calls) over streams it opens on the same session. When the
// session closes, Serve returns instead of spinning on Accept.
func TestGRPCBothDirections(t *testing.T) {
	client, server := tlsSessions(t)
	serverErr := serveGRPC(t, server)
	clientErr := serveGRPC(t, client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, dir := range []struct {
		name string
		from *mux.Session
	}{{"forward", client}, {"reverse", server}} {
		cc := grpcOver(t, dir.from)
		in := wrapperspb.Bytes([]byte(dir.name))
		out := new(wrapperspb.BytesValue)
		if err := cc.Invoke(ctx, "/podwire.bench.Echo/Unary", in, out); err != nil {
			t.Fatalf("%s call: %v", dir.name, err)
		}
		if got := string(out.GetValue()); got != dir.name {
			t.Errorf("%s call echoed %q, want %q", dir.name, got, dir.name)
		}
	}
	client.Close()
	for _, errc := range []<-chan error{serverErr, clientErr} {
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve returned %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("grpc Serve still running 5s after the session closed")
		}
	}
}

// TestGRPCOverPoolSurvivesPeerRestart makes gRPC calls through a Pool,
// kills every session from the server side, and checks that the calls in
// flight fail fast and new calls succeed over a redialed session.
func TestGRPCOverPoolSurvivesPeerRestart(t *testing.T) {
	cliTLS, srvTLS := mux.BenchPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(leanServer...)
	srv.RegisterService(&echoService, nil)
	sessions := make(chan *mux.Session, 8)
	var wg sync.WaitGroup
	go func() {
		defer close(sessions)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := mux.Server(tlsServer(c, srvTLS), mux.DefaultConfig())
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv.Serve(headerListener{s})
			}()
			sessions <- s
		}
	}()
	var live []*mux.Session
	t.Cleanup(func() {
		ln.Close()
		for s := range sessions {
			live = append(live, s)
		}
		srv.Stop()
		for _, s := range live {
			s.Close()
		}
		wg.Wait()
	})

	cfg := mux.DefaultPoolConfig()
	cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
		d := tls.Dialer{Config: cliTLS}
		return d.DialContext(ctx, "tcp", addr)
	}
	pool, err := mux.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return pool.DialService(ctx, addr, benchHeader)
		}),
	}, leanDial...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })

	call := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cc.Invoke(ctx, "/podwire.bench.Echo/Unary", wrapperspb.Bytes([]byte("x")), new(wrapperspb.BytesValue), grpc.WaitForReady(true))
	}
	if err := call(); err != nil {
		t.Fatalf("first call: %v", err)
	}
	first := <-sessions
	live = append(live, first)
	first.Close() // the peer "restarts"
	// A call racing the close may fail with Unavailable (it was sent on the
	// dying connection); once the client has seen the session die, new
	// calls must succeed over a redialed one.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	for cc.GetState() == connectivity.Ready {
		if !cc.WaitForStateChange(wctx, connectivity.Ready) {
			t.Fatal("gRPC channel still READY 5s after the server closed the session")
		}
	}
	start := time.Now()
	if err := call(); err != nil {
		t.Fatalf("call after the session died: %v", err)
	}
	t.Logf("first call after the peer dropped the session took %v", time.Since(start))
	if got := len(pool.Sessions()); got != 1 {
		t.Errorf("pool sessions after redial = %d, want 1", got)
	}
}
