package mux_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// A client and a server session over one connection (net.Pipe here; TCP+TLS
// in production). The client opens a stream naming a service; the server
// reads the header, accepts and echoes.
func Example_session() {
	c1, c2 := net.Pipe()
	client, _ := mux.Client(c1, mux.DefaultConfig())
	defer client.Close()
	server, _ := mux.Server(c2, mux.DefaultConfig())
	defer server.Close()

	go func() {
		st, err := server.Accept()
		if err != nil {
			return
		}
		defer st.Close()
		h, err := mux.ReadStreamHeader(st, mux.DefaultConfig().HeaderTimeout)
		if err != nil {
			return
		}
		if h.GetService() != "echo" {
			mux.Refuse(st, 5, "no service "+h.GetService())
			return
		}
		mux.Accept(st)
		io.Copy(st, st)
	}()

	st, err := client.DialService(context.Background(), &wirev1.StreamHeader{
		Version: mux.HeaderVersion, Service: "echo", Payload: wirev1.Payload_PAYLOAD_RAW,
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer st.Close()
	st.Write([]byte("hello over mux"))
	buf := make([]byte, 14)
	io.ReadFull(st, buf)
	fmt.Println(string(buf))
	// Output: hello over mux
}

// A Pool dials one session per address on demand and puts many streams on
// it. Dial would normally return a TLS connection negotiated with ALPN
// "podwire-mux/1".
func ExamplePool() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		server, _ := mux.Server(conn, mux.DefaultConfig())
		defer server.Close()
		for {
			st, err := server.Accept()
			if err != nil {
				return
			}
			go func() {
				defer st.Close()
				if _, err := mux.ReadStreamHeader(st, mux.DefaultConfig().HeaderTimeout); err == nil && mux.Accept(st) == nil {
					io.Copy(st, st)
				}
			}()
		}
	}()

	cfg := mux.DefaultPoolConfig()
	cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	pool, _ := mux.NewPool(cfg)
	defer pool.Close()

	h := &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_GRPC}
	for i := range 3 {
		st, err := pool.DialService(context.Background(), ln.Addr().String(), h)
		if err != nil {
			fmt.Println("dial:", err)
			return
		}
		fmt.Fprintf(st, "stream %d", i)
		buf := make([]byte, 8)
		io.ReadFull(st, buf)
		fmt.Println(string(buf))
		st.Close()
	}
	fmt.Println("sessions:", len(pool.Sessions()))
	// Output:
	// stream 0
	// stream 1
	// stream 2
	// sessions: 1
}

// Refusals arrive as *mux.RefusedError with the peer's code and message.
func ExampleRefusedError() {
	err := error(&mux.RefusedError{Code: 5, Message: `no service "billing"`})
	fmt.Println(err)
	// Output: podwire/mux: peer refused stream: NOT_FOUND (code 5): "no service \"billing\""; check the service name and that the peer serves it
}

// One rule for service names, used by Dial, Listen, certs, the wire header
// and the sidecar config.
func ExampleValidateServiceName() {
	for _, name := range []string{"inventory", "order-db2", "foo-", "Inventory"} {
		fmt.Println(name, mux.ValidateServiceName(name) == nil)
	}
	fmt.Println(mux.ValidateServiceName("a.b"))
	// Output:
	// inventory true
	// order-db2 true
	// foo- false
	// Inventory false
	// service name "a.b": must be 1–63 lowercase letters, digits or '-', starting with a letter and not ending with '-' (a DNS label, e.g. "inventory"): it contains '.' at byte 1
}

// A server shares one StreamQuota between all the sessions it accepts, so
// together they hold at most Max inbound streams; zero Config fields mean
// their defaults.
func ExampleStreamQuota() {
	quota, err := mux.NewStreamQuota(mux.DefaultStreamQuota)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := mux.Config{StreamQuota: quota, MaxPingsPerSecond: 50}
	fmt.Println(cfg.Validate(), cfg.WithDefaults().MaxRefusalsPerSecond, quota.Max(), quota.InUse())
	// Output: <nil> 200 4096 0
}
